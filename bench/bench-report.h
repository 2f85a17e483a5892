/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * Private header of onion-bench's report: bench-figs.c (figures from the
 * stored runs), bench-targets.c, bench-report.c (Markdown), bench-plot.c
 * (gnuplot).
 */

#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stdio.h>

#include "bench.h"

/* Short names for the options and the results, in the report files only. */
#define O bench_opt
#define R bench_res

#define MIB_RECORDS 64.0 /* 16 KiB units per MiB */

/* The status of a target. */
enum { T_MET, T_MISSED, T_NONE };

/* bench-figs.c: the Markdown stream and formatted cells. */
extern FILE *bench_md;
void bench_mdf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *bench_cell(void);
const char *bench_ff(struct bench_fig f, int prec);
const char *bench_med_cell(const double *v, int prec);

/* bench-figs.c: figures over the runs (NAN marks a run that failed). */
struct bench_fig bench_figv(const double *v, int n);
struct bench_fig bench_fig_ratio(const double *a, const double *b, int n);
const double *bench_bulk_runs(int x, int d, int s, int i, int n);
int bench_bulk_ran(int x, int d, int s);
void bench_limit_runs(int x, int s, int n, double *out);
void bench_ceiling_runs(int x, int s, int n, double *out);
double bench_wire_bound(int s, int n);
struct bench_fig bench_wire_fig(int s, int i, int n, int what);
void bench_hs_runs(int k, int i, int n, int what, double *v);
void bench_mem_runs(int i, int n, int rel, int what, double *v);
struct bench_fig bench_own_per_layer(int n, int rel, int end);
struct bench_fig bench_own_slope(int rel, int end);
struct bench_fig bench_mem_diff(int n, int rel, int end);
struct bench_fig bench_cpu_fig(int x, int s, int i, int n, int side);

/* bench-targets.c */
int bench_st_ge(struct bench_fig f, double goal);
int bench_st_le(struct bench_fig f, double goal);
void bench_eval_targets(void);
void bench_print_targets(void);

/* bench-plot.c */
int bench_write_plots(void);

#endif /* BENCH_REPORT_H */
