/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * onion-bench report: every figure (median [min, max] over the runs) in
 * Markdown tables, after the targets of issue 5 (bench-targets.c); gnuplot
 * data and script come from bench-plot.c.
 */

#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "bench.h"
#include "bench-report.h"

/* Sections. */

static const char *const part_label[BENCH_PARTS] = {
    "cipher", "bulk (with cipher)", "wire", "handshakes", "small messages",
    "memory", "idle connections",
};

static void print_header(int argc, char **argv, struct bench_tls *t)
{
    char date[64], load[64];
    time_t now = time(NULL);
    int i;

    strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
    bench_mdf("# bio_onion benchmark\n\n");
    bench_mdf("Made by `%s` on %s: `", O.command ? O.command : "onion-bench",
              date);
    bench_mdf("onion-bench");
    for (i = 1; i < argc; i++) {
        /* Where the output goes says nothing about the figures. */
        if (i + 1 < argc
            && (strcmp(argv[i], "--out") == 0 || strcmp(argv[i], "--data") == 0
                || strcmp(argv[i], "--command") == 0)) {
            i++;
            continue;
        }
        bench_mdf(" %s", argv[i]);
    }
    bench_mdf("`%s.\n\n",
              O.quick ? " (**quick mode**: small sizes, figures are "
                        "indicative only)"
                      : "");
    bench_mdf("- Machine: %s, %d cores, %s; %s.\n", R.cpu, R.ncpu, R.os,
              OpenSSL_version(OPENSSL_VERSION));
    bench_mdf("- Every figure: median [min, max] of %d runs (handshakes: %d "
              "runs), after one unmeasured warm-up run.\n",
              O.runs, O.hs_runs);
    bench_mdf(
        "- Bulk: every configuration first moves %d MiB with its data "
        "checked by SHA-256 end to end, then %d MiB as an unmeasured "
        "warm-up that also sizes the measured runs to last about %d ms "
        "(main configuration: socketpair, one way) or %d ms (the others), "
        "and never less than %d MiB. Application writes of %zu KiB, reads "
        "of %zu KiB; MB/s = 10^6 bytes of application data per second "
        "(both ways: the sum of both directions).\n",
        O.mib, O.mib, O.run_ms, O.run_ms / 2, O.mib, O.chunk / 1024,
        O.chunk / 1024);
    bench_mdf(
        "- Certificates: %s. Key exchange: X25519 (OpenSSL's default "
        "group). Session cache off; TLS 1.3 servers send their default two "
        "tickets.\n",
        t->cert_desc);
    bench_mdf("- Allocation counting: %s.\n",
              R.mem_hook
                  ? "CRYPTO_set_mem_functions hook (every OPENSSL_malloc), "
                    "plus mallinfo2() for the whole heap"
                  : "**unavailable** (CRYPTO_set_mem_functions refused)");
    bench_mdf("- Phases: ");
    for (i = 0; i < BENCH_PARTS; i++)
        if (O.part[i])
            bench_mdf("%s %.0f s; ", part_label[i], R.phase_secs[i]);
    bench_load_avg(load, sizeof(load));
    bench_mdf("load average (1, 5, 15 min) at the start: %s, at the end: %s "
              "(2 cores: above 2, other work shared the machine).\n",
              R.load_start, load);
    bench_mdf("- Total run time of onion-bench: %.0f s.%s\n\n", R.total_secs,
              R.failures ? " **Some measurements FAILED: see the cells marked "
                           "failed and the program's error output.**"
                         : "");
}

static void print_limit(void)
{
    double lim[BENCH_MAX_RUNS], ceil[BENCH_MAX_RUNS];
    int s, x, n;

    bench_mdf("## The machine's limit\n\n");
    bench_mdf(
        "A: the cipher alone, AEAD-encrypting 16 KiB records through EVP on "
        "one core (fresh IV and 5 bytes of AAD per record, as a TLS record "
        "layer does; `openssl speed -evp` measures the same). R: a raw "
        "socket BIO moving data one way between two threads. With one "
        "core per side, limit(N) = 1 / (1/R + N/A).\n\n");
    bench_mdf(
        "Seal and open: OpenSSL 3.0's whole record layer on one connection "
        "in one thread, with no transport: SSL_write of 256 KiB into a "
        "BIO_s_null sink, and SSL_read of records waiting in a memory BIO "
        "(this one includes the copy from the memory BIO, which an onion "
        "pays once, at the outermost layer). ceiling(N) = 1 / (1/R + N/S), "
        "S the slower of seal and open: what a nested stack built on "
        "OpenSSL's SSL objects could reach if moving records between "
        "layers and to the transport cost nothing beyond R.\n\n");
    bench_mdf(
        "| suite | transport | A (MB/s) | seal (MB/s) | open (MB/s) | R "
        "(MB/s) | limit(1) | limit(2) | limit(3) | limit(4) | ceiling(1) | "
        "ceiling(2) | ceiling(3) | ceiling(4) | ceiling(4) / limit(4) |\n");
    bench_mdf(
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (s = 0; s < BENCH_SUITES; s++) {
        for (x = 0; x < BENCH_XPORTS; x++) {
            if (!bench_bulk_ran(x, 0, s))
                continue;
            bench_mdf(
                "| %s | %s | %s | %s | %s | %s", bench_suite_label(s),
                bench_xport_name(x),
                bench_ff(bench_figv(R.cipher[s], O.runs), 0),
                bench_ff(bench_figv(R.seal[s], O.runs), 0),
                bench_ff(bench_figv(R.open[s], O.runs), 0),
                bench_ff(
                    bench_figv(bench_bulk_runs(x, 0, s, BENCH_RAW, 0), O.runs),
                    0));
            for (n = 1; n <= 4; n++) {
                bench_limit_runs(x, s, n, lim);
                bench_mdf(" | %s", bench_med_cell(lim, 0));
            }
            for (n = 1; n <= 4; n++) {
                bench_ceiling_runs(x, s, n, ceil);
                bench_mdf(" | %s", bench_med_cell(ceil, 0));
            }
            bench_limit_runs(x, s, 4, lim);
            bench_ceiling_runs(x, s, 4, ceil);
            bench_mdf(" | %s |\n",
                      bench_ff(bench_fig_ratio(ceil, lim, O.runs), 2));
        }
    }
    bench_mdf("\n");
}

static const char *ratio_cell(struct bench_fig f, double goal, int check)
{
    char *c = bench_cell();

    if (f.n == 0)
        return "n/a";
    snprintf(c, 128, "%s%s", bench_ff(f, 2),
             !check              ? ""
                 : f.med >= goal ? " met"
                                 : " **missed**");
    return c;
}

static void print_bulk(void)
{
    double lim[BENCH_MAX_RUNS], ceil[BENCH_MAX_RUNS];
    int x, d, s, n, i, all_ok;
    struct bench_fig f;

    bench_mdf("## Bulk throughput\n\n");
    bench_mdf(
        "Application MB/s. Marks: bio_onion / limit(N) >= 0.85 at depth "
        "1..4; bio_onion / chain >= 1.0 at depth 1 and >= 1.3 from depth "
        "2 (one way). Every stack's data was checked by SHA-256 end to end "
        "in its warm-up run.\n\n");
    bench_mdf("![Bulk throughput against depth](throughput.png)\n\n");
    bench_mdf("![All suites and transports](throughput-all.png)\n\n");
    for (x = 0; x < BENCH_XPORTS; x++) {
        for (d = 0; d < 2; d++) {
            for (s = 0; s < BENCH_SUITES; s++) {
                if (!bench_bulk_ran(x, d, s))
                    continue;
                bench_mdf("### %s, %s, %s\n\n", bench_suite_label(s),
                          bench_xport_name(x),
                          d ? "both ways at once" : "one way");
                bench_mdf(
                    "| depth | raw socket BIO | bio_onion | BIO_f_ssl chain |"
                    "%s bio_onion / chain | SHA-256 | MiB per run |\n",
                    d ? ""
                      : " limit(N) | bio_onion / limit(N) | bio_onion / "
                        "ceiling(N) |");
                bench_mdf("|---|---|---|---|---|%s\n",
                          d ? "---|---|" : "---|---|---|---|---|");
                for (n = O.depth_min; n <= O.depth_max; n++) {
                    bench_mdf(
                        "| %d | %s | %s | %s |", n,
                        n == 0 ? bench_ff(
                            bench_figv(bench_bulk_runs(x, d, s, BENCH_RAW, 0),
                                       O.runs),
                            0)
                               : "",
                        bench_ff(
                            bench_figv(bench_bulk_runs(x, d, s, BENCH_ONION, n),
                                       O.runs),
                            0),
                        n == 0
                            ? "(= raw)"
                            : bench_ff(bench_figv(bench_bulk_runs(
                                                      x, d, s, BENCH_CHAIN, n),
                                                  O.runs),
                                       0));
                    if (!d) {
                        bench_limit_runs(x, s, n, lim);
                        f = bench_fig_ratio(
                            bench_bulk_runs(x, d, s, BENCH_ONION, n), lim,
                            O.runs);
                        bench_mdf(
                            " %s | %s |", bench_ff(bench_figv(lim, O.runs), 0),
                            n == 0 ? ""
                                   : ratio_cell(f, 0.85, n >= 1 && n <= 4));
                        bench_ceiling_runs(x, s, n, ceil);
                        f = bench_fig_ratio(
                            bench_bulk_runs(x, d, s, BENCH_ONION, n), ceil,
                            O.runs);
                        bench_mdf(" %s |", n == 0 ? "" : ratio_cell(f, 0, 0));
                    }
                    if (n == 0) {
                        f = bench_fig_ratio(
                            bench_bulk_runs(x, d, s, BENCH_ONION, 0),
                            bench_bulk_runs(x, d, s, BENCH_RAW, 0), O.runs);
                        bench_mdf(" %s (onion / raw) |",
                                  ratio_cell(f, 0.97, !d));
                    } else {
                        f = bench_fig_ratio(
                            bench_bulk_runs(x, d, s, BENCH_ONION, n),
                            bench_bulk_runs(x, d, s, BENCH_CHAIN, n), O.runs);
                        bench_mdf(" %s |",
                                  ratio_cell(f, n == 1 ? 1.0 : 1.3, !d));
                    }
                    all_ok = 1;
                    for (i = 0; i < BENCH_IMPLS; i++) {
                        if ((i == BENCH_RAW && n > 0)
                            || (i == BENCH_CHAIN && n == 0) || !O.impl[i])
                            continue;
                        if (!R.bulk_verified[x][d][s][i][n])
                            all_ok = 0;
                    }
                    bench_mdf(" %s |", all_ok ? "match" : "**FAILED**");
                    for (i = 0; i < BENCH_IMPLS; i++) {
                        if ((i == BENCH_RAW && n > 0)
                            || (i == BENCH_CHAIN && n == 0))
                            continue;
                        bench_mdf("%s%.0f",
                                  i == BENCH_CHAIN || (n == 0 && i) ? ", "
                                                                    : " ",
                                  R.bulk_mib[x][d][s][i][n]);
                    }
                    bench_mdf(" |\n");
                }
                bench_mdf("\n");
            }
        }
    }
}

static const char *mark_short(int status)
{
    return status == T_MET ? " met" : status == T_MISSED ? " **missed**" : "";
}

/* What depth n costs beyond depth n - 1 (medians), sender and receiver. */
static const char *added_cell(int x, int s, int i, int n)
{
    int below = n == 1 && i == BENCH_CHAIN ? BENCH_RAW : i;
    double a0, a1, b0, b1;
    char *c = bench_cell();

    if (n == 0)
        return "";
    a0 = bench_cpu_fig(x, s, below, n - 1, 0).med;
    a1 = bench_cpu_fig(x, s, i, n, 0).med;
    b0 = bench_cpu_fig(x, s, below, n - 1, 1).med;
    b1 = bench_cpu_fig(x, s, i, n, 1).med;
    if (isnan(a0) || isnan(a1) || isnan(b0) || isnan(b1))
        return "n/a";
    snprintf(c, 128, "%.0f, %.0f", a1 - a0, b1 - b0);
    return c;
}

static void print_cpu(void)
{
    const int x = BENCH_SOCKETPAIR;
    struct bench_fig a, f, g;
    double per_layer, raw_s, raw_r;
    int s, n;

    bench_mdf("## CPU per MiB, bulk one way\n\n");
    bench_mdf(
        "Thread CPU time (CLOCK_THREAD_CPUTIME_ID) of each side per MiB of "
        "application data, in microseconds, over a socketpair, from the "
        "same runs as the throughput above: CPU time holds up better than "
        "wall time when other work shares the machine. Model: the raw "
        "socket BIO's own cost on that side plus N x the cipher alone "
        "(1 MiB / A), which is what limit(N) assumes.\n\n");
    for (s = 0; s < BENCH_SUITES; s++) {
        if (!bench_bulk_ran(x, 0, s))
            continue;
        a = bench_figv(R.cipher[s], O.runs);
        per_layer = a.n ? 1048576.0 / a.med : NAN;
        raw_s = bench_cpu_fig(x, s, BENCH_RAW, 0, 0).med;
        raw_r = bench_cpu_fig(x, s, BENCH_RAW, 0, 1).med;
        bench_mdf("### %s (cipher alone: %.0f us per MiB)\n\n",
                  bench_suite_label(s), per_layer);
        bench_mdf(
            "| depth | model sender, receiver | bio_onion sender | bio_onion "
            "receiver | bio_onion added layer (sender, receiver) | chain "
            "sender | chain receiver | chain added layer (sender, receiver) "
            "| both sides: onion / chain |\n");
        bench_mdf("|---|---|---|---|---|---|---|---|---|\n");
        for (n = O.depth_min; n <= O.depth_max; n++) {
            f = bench_cpu_fig(x, s, BENCH_ONION, n, 2);
            g = bench_cpu_fig(x, s, n == 0 ? BENCH_RAW : BENCH_CHAIN, n, 2);
            if (isnan(raw_s) || isnan(per_layer))
                bench_mdf("| %d | n/a |", n);
            else
                bench_mdf("| %d | %.0f, %.0f |", n, raw_s + n * per_layer,
                          raw_r + n * per_layer);
            bench_mdf(" %s | %s | %s |",
                      bench_ff(bench_cpu_fig(x, s, BENCH_ONION, n, 0), 0),
                      bench_ff(bench_cpu_fig(x, s, BENCH_ONION, n, 1), 0),
                      added_cell(x, s, BENCH_ONION, n));
            bench_mdf(
                " %s | %s | %s |",
                bench_ff(
                    bench_cpu_fig(x, s, n == 0 ? BENCH_RAW : BENCH_CHAIN, n, 0),
                    0),
                bench_ff(
                    bench_cpu_fig(x, s, n == 0 ? BENCH_RAW : BENCH_CHAIN, n, 1),
                    0),
                n == 0 ? "" : added_cell(x, s, BENCH_CHAIN, n));
            if (f.n && g.n)
                bench_mdf(" %.2f |\n", f.med / g.med);
            else
                bench_mdf(" n/a |\n");
        }
        bench_mdf("\n");
    }
}

/* bio_onion's own allocations per MiB, and per record on the wire. */
static const char *onion_allocs_cell(int s, int n)
{
    struct bench_fig a = bench_wire_fig(s, BENCH_ONION, n, 5);
    struct bench_fig r = bench_wire_fig(s, BENCH_ONION, n, 6);
    char *c = bench_cell();

    if (a.n == 0)
        return "n/a";
    if (n == 0 || r.n == 0)
        return bench_ff(a, 2);
    snprintf(c, 128, "%.2f (%.3f per record)", a.med, r.med);
    return c;
}

static void print_wire(void)
{
    struct bench_fig f, w, r;
    char *goal;
    int s, i, n, st;

    bench_mdf("## Wire bytes, records and transport calls\n\n");
    bench_mdf(
        "Per MiB of application data, one way over a socketpair, counted "
        "by a filter BIO between the stack and the socket: wire bytes and "
        "TLS records (parsed from the record headers) and write calls on "
        "the sender, read calls on the receiver; allocations through "
        "OpenSSL's allocator on both sides during the transfer (OpenSSL "
        "3.0 itself allocates small WPACKET_SUB structures, crypto/packet.c, "
        "for every record it seals, in every stack alike) and, of those, "
        "the ones made by bio_onion's own source files. Goals: "
        "wire bytes per application byte <= 1 + N x overhead / 16384 + "
        "0.1 %%; at most 64 writes and 64 reads per MiB (one per 16 "
        "KiB).\n\n");
    bench_mdf("![Transport calls against depth](transport-calls.png)\n\n");
    for (s = 0; s < BENCH_SUITES; s++) {
        if (!R.have_wire || !O.suite[s])
            continue;
        bench_mdf("### %s (record overhead %zu bytes)\n\n",
                  bench_suite_label(s), bench_suite_overhead(s));
        bench_mdf(
            "| depth | stack | wire bytes / app byte | goal | records / MiB "
            "| writes / MiB | reads / MiB | allocations / MiB | of which "
            "bio_onion/*.c |\n");
        bench_mdf("|---|---|---|---|---|---|---|---|---|\n");
        for (n = O.depth_min; n <= O.depth_max; n++) {
            for (i = 0; i < BENCH_IMPLS; i++) {
                if ((i == BENCH_RAW && n > 0) || (i == BENCH_CHAIN && n == 0))
                    continue;
                f = bench_wire_fig(s, i, n, 0);
                st = n == 0 ? T_NONE : bench_st_le(f, bench_wire_bound(s, n));
                goal = bench_cell();
                if (n > 0)
                    snprintf(goal, 128, "<= %.5f", bench_wire_bound(s, n));
                w = bench_wire_fig(s, i, n, 2);
                r = bench_wire_fig(s, i, n, 3);
                bench_mdf("| %d | %s | %s%s | %s |", n, bench_impl_name(i),
                          bench_ff(f, 5), mark_short(st), goal);
                bench_mdf(
                    " %s | %s%s | %s%s | %s | %s |\n",
                    n == 0 ? "" : bench_ff(bench_wire_fig(s, i, n, 1), 1),
                    bench_ff(w, 1),
                    i == BENCH_RAW ? ""
                                   : mark_short(bench_st_le(w, MIB_RECORDS)),
                    bench_ff(r, 1),
                    i == BENCH_RAW ? ""
                                   : mark_short(bench_st_le(r, MIB_RECORDS)),
                    bench_ff(bench_wire_fig(s, i, n, 4), 1),
                    i == BENCH_ONION ? onion_allocs_cell(s, n) : "");
            }
        }
        bench_mdf("\n");
    }
}

static void print_handshake(void)
{
    static const int suites[2] = { BENCH_T13_AES, BENCH_T12_AES };
    double a[BENCH_MAX_RUNS], b[BENCH_MAX_RUNS];
    int k, n;

    if (!R.have_hs)
        return;
    bench_mdf("## Handshakes\n\n");
    bench_mdf(
        "Every layer of a depth-N stack set up at once, then "
        "BIO_do_handshake on each side, over a socketpair. Time: from both "
        "sides starting until both are done (ms). CPU: both sides' thread "
        "CPU time (CLOCK_THREAD_CPUTIME_ID, ms). Ratios are medians of the "
        "per-run ratios (runs interleaved); they can differ from the ratio "
        "of the medians when other work disturbs some runs, and CPU time "
        "is what such disturbance moves least. Round trips: the client's "
        "turns from writing to reading on the transport. Goals: time <= "
        "1.05 x chain; N round trips for N TLS 1.3 layers.\n\n");
    bench_mdf("| suite | depth | bio_onion time | chain time | time onion / "
              "chain | bio_onion CPU | chain CPU | CPU onion / chain | round "
              "trips onion | round trips chain |\n");
    bench_mdf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (k = 0; k < 2; k++) {
        if (!O.suite[suites[k]])
            continue;
        for (n = 1; n <= 4; n++) {
            bench_mdf("| %s | %d |", bench_suite_label(suites[k]), n);
            bench_hs_runs(k, BENCH_ONION, n, 0, a);
            bench_hs_runs(k, BENCH_CHAIN, n, 0, b);
            bench_mdf(" %s | %s | %s |", bench_ff(bench_figv(a, O.hs_runs), 2),
                      bench_ff(bench_figv(b, O.hs_runs), 2),
                      bench_ff(bench_fig_ratio(a, b, O.hs_runs), 3));
            bench_hs_runs(k, BENCH_ONION, n, 1, a);
            bench_hs_runs(k, BENCH_CHAIN, n, 1, b);
            bench_mdf(" %s | %s | %s |", bench_ff(bench_figv(a, O.hs_runs), 2),
                      bench_ff(bench_figv(b, O.hs_runs), 2),
                      bench_ff(bench_fig_ratio(a, b, O.hs_runs), 3));
            bench_hs_runs(k, BENCH_ONION, n, 2, a);
            bench_hs_runs(k, BENCH_CHAIN, n, 2, b);
            bench_mdf(" %s | %s |\n", bench_ff(bench_figv(a, O.hs_runs), 0),
                      bench_ff(bench_figv(b, O.hs_runs), 0));
        }
    }
    bench_mdf("\n");
}

static void print_small(void)
{
    int n;

    if (!R.have_small)
        return;
    bench_mdf("## Small messages\n\n");
    bench_mdf("64-byte request, 64-byte echo, %d round trips per run, %s over "
              "a socketpair; round trips per second (each round trip wakes "
              "the other thread twice, so these figures move with the "
              "machine's load; the CPU time per round trip of both sides "
              "moves least). Goal: bio_onion >= 1.0 x chain.\n\n",
              O.msgs, bench_suite_label(BENCH_T13_AES));
    bench_mdf("| depth | raw socket BIO | bio_onion | BIO_f_ssl chain | "
              "bio_onion / chain | CPU us per round trip, both sides: raw | "
              "bio_onion | chain | CPU onion / chain | allocations per round "
              "trip: bio_onion (of which bio_onion/*.c) | chain |\n");
    bench_mdf("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (n = 0; n <= 4; n++) {
        bench_mdf(
            "| %d | %s | %s | %s | %s |", n,
            n == 0 ? bench_ff(bench_figv(R.small[BENCH_RAW][0], O.runs), 0)
                   : "",
            bench_ff(bench_figv(R.small[BENCH_ONION][n], O.runs), 0),
            n == 0 ? "(= raw)"
                   : bench_ff(bench_figv(R.small[BENCH_CHAIN][n], O.runs), 0),
            n == 0
                ? ""
                : ratio_cell(bench_fig_ratio(R.small[BENCH_ONION][n],
                                             R.small[BENCH_CHAIN][n], O.runs),
                             1.0, 1));
        bench_mdf(
            " %s | %s | %s | %s |",
            n == 0 ? bench_ff(bench_figv(R.small_cpu[BENCH_RAW][0], O.runs), 1)
                   : "",
            bench_ff(bench_figv(R.small_cpu[BENCH_ONION][n], O.runs), 1),
            n == 0
                ? "(= raw)"
                : bench_ff(bench_figv(R.small_cpu[BENCH_CHAIN][n], O.runs), 1),
            n == 0
                ? ""
                : bench_ff(bench_fig_ratio(R.small_cpu[BENCH_ONION][n],
                                           R.small_cpu[BENCH_CHAIN][n], O.runs),
                           2));
        bench_mdf(" %s (%s) | %s |\n",
                  bench_med_cell(R.small_allocs[BENCH_ONION][n], 2),
                  bench_med_cell(R.small_onion_allocs[BENCH_ONION][n], 2),
                  bench_med_cell(
                      R.small_allocs[n == 0 ? BENCH_RAW : BENCH_CHAIN][n], 2));
    }
    bench_mdf("\n");
}

static void print_memory(void)
{
    double v[BENCH_MAX_RUNS];
    const struct bench_idle_out *o;
    int n, rel, i, e;

    if (R.have_mem) {
        bench_mdf("## Memory per idle connection\n\n");
        bench_mdf(
            "Bytes live through OpenSSL's allocator per connection end "
            "(client, server), %d connections per run over socketpairs, "
            "each after its handshake and one 64-byte echo, then idle; %s. "
            "Onion's own bytes per layer = (onion - chain) / N + %lld, "
            "where %lld is what one BIO_f_ssl BIO costs (the chain's only "
            "per-layer overhead beyond the SSL object); the column "
            "\"bio_onion/*.c\" is what the library's own source files "
            "allocated, per connection end. Heap: malloc heap growth "
            "(mallinfo2) per connection, both ends.\n\n",
            O.mem_conns, bench_suite_label(BENCH_T13_AES), (long long)R.sslbio,
            (long long)R.sslbio);
        bench_mdf(
            "| depth | buffers | onion client | onion server | chain client "
            "| chain server | onion - chain (client, server) | onion's own "
            "per layer (client, server) | bio_onion/*.c (client, server) "
            "| heap onion | heap chain |\n");
        bench_mdf("|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (n = 1; n <= 4; n++) {
            for (rel = 0; rel < 2; rel++) {
                bench_mdf("| %d | %s |", n,
                          rel ? "RELEASE_BUFFERS" : "default");
                for (i = BENCH_ONION; i <= BENCH_CHAIN; i++) {
                    for (e = 0; e < 2; e++) {
                        bench_mem_runs(i, n, rel, e, v);
                        bench_mdf(" %s |", bench_ff(bench_figv(v, O.runs), 0));
                    }
                }
                bench_mdf(" %s, %s |", bench_ff(bench_mem_diff(n, rel, 0), 0),
                          bench_ff(bench_mem_diff(n, rel, 1), 0));
                bench_mdf(" %s, %s |",
                          bench_ff(bench_own_per_layer(n, rel, 0), 0),
                          bench_ff(bench_own_per_layer(n, rel, 1), 0));
                bench_mem_runs(BENCH_ONION, n, rel, 2, v);
                bench_mdf(" %s,", bench_ff(bench_figv(v, O.runs), 0));
                bench_mem_runs(BENCH_ONION, n, rel, 3, v);
                bench_mdf(" %s |", bench_ff(bench_figv(v, O.runs), 0));
                for (i = BENCH_ONION; i <= BENCH_CHAIN; i++) {
                    bench_mem_runs(i, n, rel, 4, v);
                    bench_mdf(" %s |", bench_ff(bench_figv(v, O.runs), 0));
                }
                bench_mdf("\n");
            }
        }
        bench_mdf("\n");
    }
    if (!R.idle_ran[BENCH_ONION] && !R.idle_ran[BENCH_CHAIN])
        return;
    bench_mdf("## Idle depth-3 connections in one process\n\n");
    bench_mdf("Client ends in one forked process, server ends in another (each "
              "process then needs one descriptor per connection, and its "
              "resident size grows from a trimmed heap), over Unix stream "
              "sockets; %s with SSL_MODE_RELEASE_BUFFERS; each "
              "connection: handshake of 3 layers and one 64-byte echo, then "
              "idle. Opened in %d batches; per-connection bytes per batch "
              "(median [min, max]). At the end every connection must answer "
              "one more echo.\n\n",
              bench_suite_label(BENCH_T13_AES),
              R.idle[BENCH_ONION].batches ? R.idle[BENCH_ONION].batches
                                          : R.idle[BENCH_CHAIN].batches);
    bench_mdf(
        "| stack | connections | setup time | OpenSSL bytes, client | "
        "OpenSSL bytes, server | heap, client | heap, server | RSS, client "
        "| RSS, server | all alive |\n");
    bench_mdf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (i = BENCH_ONION; i <= BENCH_CHAIN; i++) {
        if (!R.idle_ran[i])
            continue;
        o = &R.idle[i];
        if (!R.idle_ok[i]) {
            bench_mdf("| %s | %d | failed | | | | | | | no |\n",
                      bench_impl_name(i), o->conns);
            continue;
        }
        bench_mdf("| %s | %d | %.1f s | %s | %s | %s | %s | %s | %s | %s |\n",
                  bench_impl_name(i), o->conns, o->setup_secs,
                  bench_ff(bench_figv(o->client, o->batches), 0),
                  bench_ff(bench_figv(o->server, o->batches), 0),
                  bench_ff(bench_figv(o->heap_client, o->batches), 0),
                  bench_ff(bench_figv(o->heap_server, o->batches), 0),
                  bench_ff(bench_figv(o->rss_client, o->batches), 0),
                  bench_ff(bench_figv(o->rss_server, o->batches), 0),
                  o->live_ok ? "yes" : "**no**");
    }
    bench_mdf("\n");
}

int bench_report(int argc, char **argv, struct bench_tls *t)
{
    char *buf = NULL, path[1024];
    size_t len = 0;
    FILE *f;
    int ok = 1;

    bench_md = open_memstream(&buf, &len);
    if (bench_md == NULL)
        return 0;
    bench_eval_targets();
    print_header(argc, argv, t);
    bench_print_targets();
    if (R.have_bulk) {
        print_limit();
        print_bulk();
        print_cpu();
    }
    if (R.have_wire)
        print_wire();
    print_handshake();
    print_small();
    print_memory();
    if (fclose(bench_md) != 0)
        return 0;
    fwrite(buf, 1, len, stdout);
    fflush(stdout);
    if (O.out != NULL) {
        snprintf(path, sizeof(path), "%s/results.md", O.out);
        f = fopen(path, "w");
        if (f == NULL || fwrite(buf, 1, len, f) != len) {
            perror(path);
            ok = 0;
        }
        if (f != NULL && fclose(f) != 0)
            ok = 0;
    }
    if (O.data != NULL && !bench_write_plots()) {
        perror("writing gnuplot data");
        ok = 0;
    }
    free(buf);
    return ok;
}
