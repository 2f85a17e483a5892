/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * onion-bench report: the targets of issue 5, each figure next to its goal,
 * marked met or missed.
 */

#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "bench-report.h"

struct target {
    char what[96];
    char where[96];
    char fig[96];
    char goal[64];
    int status;
};

#define MAX_TARGETS 96

static struct target targets[MAX_TARGETS];
static int ntargets;

static const char *mark(int status)
{
    return status == T_MET   ? "met"
        : status == T_MISSED ? "**missed**"
                             : "not measured";
}

static int add_target(const char *what, const char *where, const char *fig,
                      const char *goal, int status)
{
    struct target *t;

    if (ntargets == MAX_TARGETS)
        return status;
    t = &targets[ntargets++];
    snprintf(t->what, sizeof(t->what), "%s", what);
    snprintf(t->where, sizeof(t->where), "%s", where);
    snprintf(t->fig, sizeof(t->fig), "%s", fig);
    snprintf(t->goal, sizeof(t->goal), "%s", goal);
    t->status = status;
    return status;
}

int bench_st_ge(struct bench_fig f, double goal)
{
    return f.n == 0 ? T_NONE : f.med >= goal ? T_MET : T_MISSED;
}

int bench_st_le(struct bench_fig f, double goal)
{
    return f.n == 0 ? T_NONE : f.med <= goal ? T_MET : T_MISSED;
}

/* The targets of issue 5, evaluated on the main configuration. */

void bench_eval_targets(void)
{
    const int x = BENCH_SOCKETPAIR, s = BENCH_T13_AES;
    double lim[BENCH_MAX_RUNS], a[BENCH_MAX_RUNS], b[BENCH_MAX_RUNS];
    struct bench_fig f, g;
    char where[96], goal[64], *c;
    int n, k, rel, ran = bench_bulk_ran(x, 0, s), st;

    for (n = 1; n <= 4; n++) {
        snprintf(where, sizeof(where), "depth %d", n);
        bench_limit_runs(x, s, n, lim);
        f = ran && n <= O.depth_max ? bench_fig_ratio(
                bench_bulk_runs(x, 0, s, BENCH_ONION, n), lim, O.runs)
                                    : bench_fig_of(NULL, 0);
        add_target("bio_onion / limit(N), bulk one way", where, bench_ff(f, 2),
                   ">= 0.85", bench_st_ge(f, 0.85));
    }
    for (n = 1; n <= BENCH_MAX_DEPTH; n++) {
        snprintf(where, sizeof(where), "depth %d", n);
        f = ran && n <= O.depth_max
            ? bench_fig_ratio(bench_bulk_runs(x, 0, s, BENCH_ONION, n),
                              bench_bulk_runs(x, 0, s, BENCH_CHAIN, n), O.runs)
            : bench_fig_of(NULL, 0);
        add_target("bio_onion / BIO_f_ssl chain, bulk one way", where,
                   bench_ff(f, 2), n == 1 ? ">= 1.0" : ">= 1.3",
                   bench_st_ge(f, n == 1 ? 1.0 : 1.3));
    }
    f = ran ? bench_fig_ratio(bench_bulk_runs(x, 0, s, BENCH_ONION, 0),
                              bench_bulk_runs(x, 0, s, BENCH_RAW, 0), O.runs)
            : bench_fig_of(NULL, 0);
    add_target("bio_onion / raw socket BIO, bulk one way", "depth 0",
               bench_ff(f, 3), ">= 0.97", bench_st_ge(f, 0.97));

    for (n = 1; n <= BENCH_MAX_DEPTH; n++) {
        snprintf(where, sizeof(where), "depth %d", n);
        snprintf(goal, sizeof(goal), "<= %.5f", bench_wire_bound(s, n));
        f = R.have_wire && O.suite[s] && n <= O.depth_max
            ? bench_wire_fig(s, BENCH_ONION, n, 0)
            : bench_fig_of(NULL, 0);
        add_target("wire bytes per application byte", where, bench_ff(f, 5),
                   goal, bench_st_le(f, bench_wire_bound(s, n)));
    }
    for (n = 0; n <= BENCH_MAX_DEPTH; n++) {
        snprintf(where, sizeof(where), "depth %d", n);
        f = R.have_wire && O.suite[s] && n <= O.depth_max
            ? bench_wire_fig(s, BENCH_ONION, n, 2)
            : bench_fig_of(NULL, 0);
        g = R.have_wire && O.suite[s] && n <= O.depth_max
            ? bench_wire_fig(s, BENCH_ONION, n, 3)
            : bench_fig_of(NULL, 0);
        c = bench_cell();
        snprintf(c, 128, "writes %.2f, reads %.2f", f.med / MIB_RECORDS,
                 g.med / MIB_RECORDS);
        st = f.n == 0 || g.n == 0                          ? T_NONE
            : f.med <= MIB_RECORDS && g.med <= MIB_RECORDS ? T_MET
                                                           : T_MISSED;
        add_target("transport calls per 16 KiB, bulk", where,
                   st == T_NONE ? "n/a" : c, "<= 1 read, <= 1 write", st);
    }
    /* Allocations by bio_onion's own code per TLS record on the wire. */
    f = bench_fig_of(NULL, 0);
    for (n = 1; R.have_wire && O.suite[s] && n <= O.depth_max; n++) {
        g = bench_wire_fig(s, BENCH_ONION, n, 6);
        if (n == 1 || g.n == 0 || (f.n > 0 && g.med > f.med))
            f = g;
    }
    add_target("allocations by bio_onion's own code per record, bulk "
               "(worst depth)",
               "depth 1..max", bench_ff(f, 3), "< 0.5 (none per record)",
               f.n == 0          ? T_NONE
                   : f.med < 0.5 ? T_MET
                                 : T_MISSED);
    for (n = 1; n <= 4; n++) {
        snprintf(where, sizeof(where), "TLS 1.3, depth %d", n);
        if (R.have_hs && O.suite[s]) {
            bench_hs_runs(0, BENCH_ONION, n, 0, a);
            bench_hs_runs(0, BENCH_CHAIN, n, 0, b);
            f = bench_fig_ratio(a, b, O.hs_runs);
        } else {
            f = bench_fig_of(NULL, 0);
        }
        add_target("handshake time, bio_onion / chain", where, bench_ff(f, 3),
                   "<= 1.05", bench_st_le(f, 1.05));
    }
    for (n = 1; n <= 4; n++) {
        snprintf(where, sizeof(where), "TLS 1.3, depth %d", n);
        snprintf(goal, sizeof(goal), "= %d", n);
        if (R.have_hs && O.suite[s]) {
            bench_hs_runs(0, BENCH_ONION, n, 2, a);
            f = bench_figv(a, O.hs_runs);
        } else {
            f = bench_fig_of(NULL, 0);
        }
        add_target("handshake round trips, bio_onion", where, bench_ff(f, 0),
                   goal,
                   f.n == 0                       ? T_NONE
                       : f.min == n && f.max == n ? T_MET
                                                  : T_MISSED);
    }
    for (n = 1; n <= 4; n++) {
        snprintf(where, sizeof(where), "depth %d", n);
        f = R.have_small ? bench_fig_ratio(R.small[BENCH_ONION][n],
                                           R.small[BENCH_CHAIN][n], O.runs)
                         : bench_fig_of(NULL, 0);
        add_target("64-byte round trips/s, bio_onion / chain", where,
                   bench_ff(f, 3), ">= 1.0", bench_st_ge(f, 1.0));
    }
    /* Each 64-byte round trip is two records, one each way. */
    f = bench_fig_of(NULL, 0);
    for (n = 1; R.have_small && n <= 4; n++) {
        double v[BENCH_MAX_RUNS];
        int r;

        for (r = 0; r < O.runs; r++)
            v[r] = R.small_onion_allocs[BENCH_ONION][n][r] / 2;
        g = bench_figv(v, O.runs);
        if (n == 1 || g.n == 0 || (f.n > 0 && g.med > f.med))
            f = g;
    }
    add_target("allocations by bio_onion's own code per record, 64-byte "
               "messages (worst depth)",
               "depth 1..4", bench_ff(f, 3), "< 0.5 (none per record)",
               f.n == 0          ? T_NONE
                   : f.med < 0.5 ? T_MET
                                 : T_MISSED);
    for (rel = 0; rel < 2; rel++) {
        for (n = 1; n <= 4; n++) {
            snprintf(where, sizeof(where), "depth %d, %s", n,
                     rel ? "RELEASE_BUFFERS" : "default buffers");
            if (R.have_mem) {
                f = bench_own_per_layer(n, rel, 0);
                g = bench_own_per_layer(n, rel, 1);
                if (g.n > 0 && (f.n == 0 || g.med > f.med))
                    f = g;
            } else {
                f = bench_fig_of(NULL, 0);
            }
            add_target("onion's own bytes per layer (worse end)", where,
                       bench_ff(f, 0), "<= 512", bench_st_le(f, 512));
        }
        f = R.have_mem ? bench_own_slope(rel, 0) : bench_fig_of(NULL, 0);
        g = R.have_mem ? bench_own_slope(rel, 1) : bench_fig_of(NULL, 0);
        if (g.n > 0 && (f.n == 0 || g.med > f.med))
            f = g;
        add_target("onion's own bytes per added layer, depth 1 to 4 "
                   "(worse end)",
                   rel ? "RELEASE_BUFFERS" : "default buffers", bench_ff(f, 0),
                   "<= 512", bench_st_le(f, 512));
    }
    for (k = 0; k < 2; k++) {
        f = R.have_mem ? bench_mem_diff(3, 1, k) : bench_fig_of(NULL, 0);
        add_target(k ? "idle depth 3, RELEASE_BUFFERS: onion - chain, server"
                     : "idle depth 3, RELEASE_BUFFERS: onion - chain, client",
                   "per connection end", bench_ff(f, 0), "<= 1536 bytes",
                   bench_st_le(f, 1536));
    }
    c = bench_cell();
    snprintf(c, 128, "%d connections, %s", R.idle[BENCH_ONION].conns,
             R.idle_ok[BENCH_ONION] ? "all answered" : "failed");
    add_target("idle depth-3 bio_onion connections held in one process",
               "RELEASE_BUFFERS", R.idle_ran[BENCH_ONION] ? c : "n/a",
               ">= 10000, all alive",
               !R.idle_ran[BENCH_ONION] ? T_NONE
                   : R.idle_ok[BENCH_ONION]
                       && R.idle[BENCH_ONION].conns >= 10000
                   ? T_MET
                   : T_MISSED);
    c = bench_cell();
    snprintf(c, 128, "%.0f s", R.total_secs);
    add_target("run time of the whole benchmark",
               O.quick ? "quick mode" : "full mode", c, "< 600 s",
               R.parts_run < BENCH_PARTS || O.quick ? T_NONE
                   : R.total_secs < 600             ? T_MET
                                                    : T_MISSED);
}

void bench_print_targets(void)
{
    int i, met = 0, missed = 0, none = 0;

    for (i = 0; i < ntargets; i++) {
        met += targets[i].status == T_MET;
        missed += targets[i].status == T_MISSED;
        none += targets[i].status == T_NONE;
    }
    bench_mdf("## Targets\n\n");
    bench_mdf(
        "Evaluated on the main configuration: %s over a socketpair, client "
        "and server in two threads on cores of their own. Figures are "
        "median [min, max] of the runs; a ratio's range is that of the "
        "per-run ratios (runs of the compared stacks are interleaved). "
        "**%d met, %d missed, %d not measured.**\n\n",
        bench_suite_label(BENCH_T13_AES), met, missed, none);
    bench_mdf("| target | where | figure | goal | result |\n");
    bench_mdf("|---|---|---|---|---|\n");
    for (i = 0; i < ntargets; i++)
        bench_mdf("| %s | %s | %s | %s | %s |\n", targets[i].what,
                  targets[i].where, targets[i].fig, targets[i].goal,
                  mark(targets[i].status));
    bench_mdf("\n");
}
