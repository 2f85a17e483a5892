/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * onion-bench report: the figures, derived from the stored runs (medians,
 * ranges, per-run ratios, limit(N) and ceiling(N), memory differences).
 */

#define _GNU_SOURCE
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "bench.h"
#include "bench-report.h"

/* The Markdown report being written (see bench-report.c). */
FILE *bench_md;

void bench_mdf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(bench_md, fmt, ap);
    va_end(ap);
}

/* A ring of buffers for formatted cells, so several fit in one mdf call. */
char *bench_cell(void)
{
    static char ring[32][128];
    static int next;

    next = (next + 1) % 32;
    ring[next][0] = '\0';
    return ring[next];
}

struct bench_fig bench_figv(const double *v, int n)
{
    double ok[BENCH_MAX_RUNS];
    int i, k = 0;

    for (i = 0; i < n && i < BENCH_MAX_RUNS; i++)
        if (!isnan(v[i]))
            ok[k++] = v[i];
    return bench_fig_of(ok, k);
}

/* Per-run ratio a[i] / b[i] over the runs where both exist. */
struct bench_fig bench_fig_ratio(const double *a, const double *b, int n)
{
    double r[BENCH_MAX_RUNS];
    int i;

    for (i = 0; i < n; i++)
        r[i] = isnan(a[i]) || isnan(b[i]) || b[i] == 0 ? NAN : a[i] / b[i];
    return bench_figv(r, n);
}

const char *bench_ff(struct bench_fig f, int prec)
{
    char *c = bench_cell();

    if (f.n == 0)
        snprintf(c, 128, "n/a");
    else if (f.n == 1)
        snprintf(c, 128, "%.*f", prec, f.med);
    else
        snprintf(c, 128, "%.*f [%.*f, %.*f]", prec, f.med, prec, f.min, prec,
                 f.max);
    return c;
}

/* The median of the runs alone, or n/a. */
const char *bench_med_cell(const double *v, int prec)
{
    struct bench_fig f = bench_figv(v, O.runs);
    char *c = bench_cell();

    if (f.n == 0)
        return "n/a";
    snprintf(c, 128, "%.*f", prec, f.med);
    return c;
}

/* Figures derived from the stored runs. */

const double *bench_bulk_runs(int x, int d, int s, int i, int n)
{
    return R.bulk[x][d][s][i][n];
}

int bench_bulk_ran(int x, int d, int s)
{
    return R.have_bulk && O.xport[x] && O.dir[d] && O.suite[s];
}

/* limit(N) per run: R of that run's raw transfer, A of that run. */
void bench_limit_runs(int x, int s, int n, double *out)
{
    const double *raw = bench_bulk_runs(x, 0, s, BENCH_RAW, 0);
    int r;

    for (r = 0; r < O.runs; r++) {
        double a = R.cipher[s][r], rr = raw[r];

        out[r] = isnan(a) || isnan(rr) || a <= 0 || rr <= 0
            ? NAN
            : 1.0 / (1.0 / rr + n / a);
    }
}

/*
 * ceiling(N) per run: limit(N) with the cipher alone replaced by OpenSSL's
 * whole record layer (the slower of seal and open).
 */
void bench_ceiling_runs(int x, int s, int n, double *out)
{
    const double *raw = bench_bulk_runs(x, 0, s, BENCH_RAW, 0);
    int r;

    for (r = 0; r < O.runs; r++) {
        double a = R.seal[s][r] < R.open[s][r] ? R.seal[s][r] : R.open[s][r];
        double rr = raw[r];

        out[r] = isnan(a) || isnan(rr) || a <= 0 || rr <= 0
            ? NAN
            : 1.0 / (1.0 / rr + n / a);
    }
}

double bench_wire_bound(int s, int n)
{
    return 1.0 + n * (double)bench_suite_overhead(s) / 16384.0 + 0.001;
}

struct bench_fig bench_wire_fig(int s, int i, int n, int what)
{
    double v[BENCH_MAX_RUNS];
    int r;

    for (r = 0; r < O.runs; r++) {
        const struct bench_wire *w = &R.wire[s][i][n][r];

        v[r] = what == 0 ? w->ratio
            : what == 1  ? w->records
            : what == 2  ? w->writes
            : what == 3  ? w->reads
            : what == 4  ? w->allocs
            : what == 5  ? w->onion_allocs
                         : w->onion_allocs / w->records;
    }
    return bench_figv(v, O.runs);
}

void bench_hs_runs(int k, int i, int n, int what, double *v)
{
    int r;

    for (r = 0; r < O.hs_runs; r++) {
        const struct bench_hs_out *h = &R.hs[k][i][n][r];

        v[r] = what == 0 ? h->wall * 1e3
            : what == 1  ? h->cpu * 1e3
            : what == 2  ? (isnan(h->wall) ? NAN : (double)h->turns)
                         : (double)h->wbytes;
    }
}

void bench_mem_runs(int i, int n, int rel, int what, double *v)
{
    int r;

    for (r = 0; r < O.runs; r++) {
        const struct bench_mem_out *m = &R.mem[i][n][rel][r];

        v[r] = what == 0 ? m->client
            : what == 1  ? m->server
            : what == 2  ? m->onion_client
            : what == 3  ? m->onion_server
                         : m->heap;
    }
}

/* Onion's own bytes per layer beyond the SSL objects, per run (one end). */
struct bench_fig bench_own_per_layer(int n, int rel, int end)
{
    double a[BENCH_MAX_RUNS], b[BENCH_MAX_RUNS], v[BENCH_MAX_RUNS];
    int r;

    bench_mem_runs(BENCH_ONION, n, rel, end, a);
    bench_mem_runs(BENCH_CHAIN, n, rel, end, b);
    for (r = 0; r < O.runs; r++)
        v[r] = (a[r] - b[r]) / n + (double)R.sslbio;
    return bench_figv(v, O.runs);
}

/*
 * Onion's own bytes per added layer: the slope of its own bytes from depth
 * 1 to depth 4 (what the onion BIO itself costs once drops out), per run.
 */
struct bench_fig bench_own_slope(int rel, int end)
{
    double a1[BENCH_MAX_RUNS], b1[BENCH_MAX_RUNS], a4[BENCH_MAX_RUNS];
    double b4[BENCH_MAX_RUNS], v[BENCH_MAX_RUNS];
    int r;

    bench_mem_runs(BENCH_ONION, 1, rel, end, a1);
    bench_mem_runs(BENCH_CHAIN, 1, rel, end, b1);
    bench_mem_runs(BENCH_ONION, 4, rel, end, a4);
    bench_mem_runs(BENCH_CHAIN, 4, rel, end, b4);
    for (r = 0; r < O.runs; r++)
        v[r] = ((a4[r] - b4[r]) - (a1[r] - b1[r])) / 3 + (double)R.sslbio;
    return bench_figv(v, O.runs);
}

struct bench_fig bench_mem_diff(int n, int rel, int end)
{
    double a[BENCH_MAX_RUNS], b[BENCH_MAX_RUNS], v[BENCH_MAX_RUNS];
    int r;

    bench_mem_runs(BENCH_ONION, n, rel, end, a);
    bench_mem_runs(BENCH_CHAIN, n, rel, end, b);
    for (r = 0; r < O.runs; r++)
        v[r] = a[r] - b[r];
    return bench_figv(v, O.runs);
}

/* CPU per MiB of one side, summed over sender and receiver per run. */
struct bench_fig bench_cpu_fig(int x, int s, int i, int n, int side)
{
    struct bench_fig f;
    double v[BENCH_MAX_RUNS];
    int r;

    for (r = 0; r < O.runs; r++) {
        const double *c = R.bulk_cpu[x][s][i][n][0],
                     *d = R.bulk_cpu[x][s][i][n][1];

        v[r] = side == 0 ? c[r] : side == 1 ? d[r] : c[r] + d[r];
    }
    f = bench_figv(v, O.runs);
    if (f.n == 0)
        f.med = f.min = f.max = NAN;
    return f;
}
