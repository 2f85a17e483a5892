/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * onion-bench report: gnuplot data files and the gnuplot script that draws
 * throughput.png, throughput-all.png and transport-calls.png.
 */

#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "bench-report.h"

/* gnuplot data and script. */

static void dat_val(FILE *f, struct bench_fig g)
{
    if (g.n == 0)
        fprintf(f, " ? ? ?");
    else
        fprintf(f, " %.3f %.3f %.3f", g.med, g.min, g.max);
}

static int write_bulk_dat(int x, int d, int s, char *path, size_t len)
{
    double lim[BENCH_MAX_RUNS];
    FILE *f;
    int n;

    snprintf(path, len, "%s/bulk-%s-%s-%s.dat", O.data,
             x == BENCH_SOCKETPAIR ? "socketpair" : "tcp", d ? "both" : "one",
             bench_suite_name(s));
    f = fopen(path, "w");
    if (f == NULL)
        return 0;
    fprintf(f,
            "# depth raw(med min max) onion(med min max) chain(med min "
            "max) limit ceiling\n");
    for (n = 0; n <= O.depth_max; n++) {
        fprintf(f, "%d", n);
        if (n == 0)
            dat_val(f,
                    bench_figv(bench_bulk_runs(x, d, s, BENCH_RAW, 0), O.runs));
        else
            fprintf(f, " ? ? ?");
        dat_val(f,
                bench_figv(bench_bulk_runs(x, d, s, BENCH_ONION, n), O.runs));
        if (n == 0)
            fprintf(f, " ? ? ?");
        else
            dat_val(
                f,
                bench_figv(bench_bulk_runs(x, d, s, BENCH_CHAIN, n), O.runs));
        bench_limit_runs(x, s, n, lim);
        if (d == 0 && bench_figv(lim, O.runs).n > 0)
            fprintf(f, " %.3f", bench_figv(lim, O.runs).med);
        else
            fprintf(f, " ?");
        bench_ceiling_runs(x, s, n, lim);
        if (d == 0 && bench_figv(lim, O.runs).n > 0)
            fprintf(f, " %.3f\n", bench_figv(lim, O.runs).med);
        else
            fprintf(f, " ?\n");
    }
    return fclose(f) == 0;
}

static void gp_bulk_plot(FILE *gp, const char *path, int d)
{
    fprintf(gp,
            "plot '%s' u 1:5:6:7 w yerrorlines lw 2 pt 7 lc rgb '#1f77b4' "
            "t 'bio_onion', \\\n"
            "     '' u 1:8:9:10 w yerrorlines lw 2 pt 5 lc rgb '#d62728' "
            "t 'BIO_f_ssl chain', \\\n",
            path);
    if (!d)
        fprintf(gp,
                "     '' u 1:11 w lp lw 2 dt 2 pt 6 lc rgb '#2ca02c' "
                "t 'limit(N) = 1/(1/R + N/A)', \\\n"
                "     '' u 1:12 w lp lw 2 dt 3 pt 8 lc rgb '#9467bd' "
                "t 'OpenSSL ceiling(N) = 1/(1/R + N/S)', \\\n");
    fprintf(gp,
            "     '' u 1:2:3:4 w yerrorbars pt 9 ps 1.5 lc rgb 'black' "
            "t 'raw socket BIO'\n");
}

int bench_write_plots(void)
{
    char path[1024], gpath[1024], first[1024] = "";
    FILE *gp, *f;
    int x, d, s, n, rows = 0, cols = 0, first_d = 0, i;
    double a;

    snprintf(gpath, sizeof(gpath), "%s/plots.gp", O.data);
    gp = fopen(gpath, "w");
    if (gp == NULL)
        return 0;
    fprintf(gp,
            "# Written by onion-bench; run: gnuplot -e "
            "\"outdir='DIR'\" plots.gp\n"
            "if (!exists('outdir')) outdir = '.'\n"
            "set datafile missing '?'\n"
            "set grid\nset key top right\n"
            "set xrange [-0.5:%d.5]\nset xtics 1\n",
            O.depth_max);
    for (s = 0; s < BENCH_SUITES; s++)
        cols += O.suite[s];
    for (x = 0; x < BENCH_XPORTS; x++)
        for (d = 0; d < 2; d++)
            rows += O.xport[x] && O.dir[d];
    if (R.have_bulk && rows > 0 && cols > 0) {
        for (x = 0; x < BENCH_XPORTS; x++) {
            for (d = 0; d < 2; d++) {
                for (s = 0; s < BENCH_SUITES; s++) {
                    if (!bench_bulk_ran(x, d, s))
                        continue;
                    if (!write_bulk_dat(x, d, s, path, sizeof(path)))
                        goto err;
                    if (first[0] == '\0'
                        || (x == BENCH_SOCKETPAIR && d == 0
                            && s == BENCH_T13_AES)) {
                        snprintf(first, sizeof(first), "%s", path);
                        first_d = d;
                    }
                }
            }
        }
        fprintf(gp,
                "set terminal pngcairo noenhanced size 1100,700 "
                "font 'DejaVu Sans,12'\n"
                "set output outdir.'/throughput.png'\n"
                "set title '%s'\n"
                "set xlabel 'depth (TLS layers)'\n"
                "set ylabel 'application MB/s'\nset yrange [0:*]\n",
                first_d ? "Bulk throughput, both ways"
                        : "Bulk throughput one way, TLS 1.3 AES-128-GCM, "
                          "socketpair (median; bars: min..max)");
        gp_bulk_plot(gp, first, first_d);
        fprintf(gp,
                "unset output\n"
                "set terminal pngcairo noenhanced size %d,%d "
                "font 'DejaVu Sans,10'\n"
                "set output outdir.'/throughput-all.png'\n"
                "set logscale y\nset yrange [*:*]\nset key bottom left\n"
                "set multiplot layout %d,%d title 'Application MB/s "
                "against depth (log scale; median, bars: min..max)'\n",
                520 * cols, 380 * rows, rows, cols);
        for (x = 0; x < BENCH_XPORTS; x++) {
            for (d = 0; d < 2; d++) {
                for (s = 0; s < BENCH_SUITES; s++) {
                    if (!bench_bulk_ran(x, d, s))
                        continue;
                    snprintf(path, sizeof(path), "%s/bulk-%s-%s-%s.dat", O.data,
                             x == BENCH_SOCKETPAIR ? "socketpair" : "tcp",
                             d ? "both" : "one", bench_suite_name(s));
                    fprintf(gp, "set title '%s, %s, %s'\n",
                            bench_suite_label(s), bench_xport_name(x),
                            d ? "both ways (sum)" : "one way");
                    gp_bulk_plot(gp, path, d);
                }
            }
        }
        fprintf(gp,
                "unset multiplot\nunset output\nunset logscale y\n"
                "set key top right\n");
    }
    if (R.have_wire && O.suite[BENCH_T13_AES]) {
        snprintf(path, sizeof(path), "%s/calls-%s.dat", O.data,
                 bench_suite_name(BENCH_T13_AES));
        f = fopen(path, "w");
        if (f == NULL)
            goto err;
        fprintf(f,
                "# depth onion_writes(med min max) onion_reads chain_"
                "writes chain_reads, per MiB\n");
        for (n = 0; n <= O.depth_max; n++) {
            fprintf(f, "%d", n);
            for (i = BENCH_ONION; i <= BENCH_CHAIN; i++) {
                int impl = n == 0 && i == BENCH_CHAIN ? BENCH_RAW : i;

                dat_val(f, bench_wire_fig(BENCH_T13_AES, impl, n, 2));
                dat_val(f, bench_wire_fig(BENCH_T13_AES, impl, n, 3));
            }
            fprintf(f, "\n");
        }
        if (fclose(f) != 0)
            goto err;
        a = MIB_RECORDS;
        fprintf(gp,
                "set terminal pngcairo noenhanced size 1100,700 "
                "font 'DejaVu Sans,12'\n"
                "set output outdir.'/transport-calls.png'\n"
                "set title 'Transport calls per MiB, bulk one way, TLS 1.3 "
                "AES-128-GCM, socketpair (depth 0: raw socket BIO for the "
                "chain)'\n"
                "set xlabel 'depth (TLS layers)'\n"
                "set ylabel 'calls per MiB of application data'\n"
                "set xrange [-0.5:%d.5]\n"
                "set logscale y\nset yrange [1:*]\nset key bottom right\n"
                "plot '%s' u 1:2:3:4 w yerrorlines lw 2 pt 7 lc rgb "
                "'#1f77b4' t 'bio_onion writes', \\\n"
                "     '' u 1:5:6:7 w yerrorlines lw 2 pt 6 dt 2 lc rgb "
                "'#1f77b4' t 'bio_onion reads', \\\n"
                "     '' u 1:8:9:10 w yerrorlines lw 2 pt 5 lc rgb '#d62728' "
                "t 'BIO_f_ssl chain writes', \\\n"
                "     '' u 1:11:12:13 w yerrorlines lw 2 pt 4 dt 2 lc rgb "
                "'#d62728' t 'BIO_f_ssl chain reads', \\\n"
                "     %g w l lw 1 lc rgb 'black' t 'goal: 64 per MiB (one "
                "per 16 KiB)'\n"
                "unset output\nunset logscale y\n",
                O.depth_max, path, a);
    }
    return fclose(gp) == 0;
err:
    fclose(gp);
    return 0;
}
