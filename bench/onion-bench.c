/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * onion-bench: bio_onion against a plain nested chain of BIO_f_ssl BIOs, a
 * raw socket BIO and the machine's limit, all measured in one run so that
 * ratios hold on a noisy machine.  Runs of the compared stacks are
 * interleaved (run 1 of every configuration, then run 2, ...).  Writes a
 * Markdown report (results.md), gnuplot data and a gnuplot script; see
 * bench/run-bench.sh and `make bench`.
 */

#define _GNU_SOURCE
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/utsname.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "bio_onion.h"
#include "bench.h"

struct bench_results bench_res;

/* Phases.  Every figure is stored per run; NAN marks a failed run. */

static void fail_note(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void fail_note(const char *fmt, ...)
{
    va_list ap;

    bench_res.failures++;
    fprintf(stderr, "  FAILED: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    ERR_clear_error();
}

/* Run |r| of the cipher's and the record layer's speed for one suite. */
static void measure_cipher(struct bench_tls *t, int s, int r)
{
    double secs = bench_opt.quick ? 0.05 : 0.1;

    bench_pin(0);
    bench_res.cipher[s][r] = bench_cipher_speed(s, secs);
    if (bench_res.cipher[s][r] <= 0) {
        bench_res.cipher[s][r] = NAN;
        fail_note("cipher speed %s", bench_suite_name(s));
    }
    if (!bench_record_speed(t, s, secs, &bench_res.seal[s][r],
                            &bench_res.open[s][r])) {
        bench_res.seal[s][r] = bench_res.open[s][r] = NAN;
        fail_note("record layer speed %s", bench_suite_name(s));
    }
    bench_res.have_cipher = 1;
}

/* The cipher's speed on its own, when no bulk runs measure it in between. */
static void phase_cipher(struct bench_tls *t)
{
    int r, s;

    bench_log("cipher and record layer speed (16 KiB records)\n");
    for (r = 0; r < bench_opt.runs; r++)
        for (s = 0; s < BENCH_SUITES; s++)
            if (bench_opt.suite[s])
                measure_cipher(t, s, r);
}

static int impl_at(int impl, int depth)
{
    if (!bench_opt.impl[impl] || depth < bench_opt.depth_min)
        return 0;
    if (impl == BENCH_RAW)
        return depth == 0;
    if (impl == BENCH_CHAIN)
        return depth >= 1;
    return 1;
}

/*
 * bulk_bytes sizes a measured run so that it lasts about --run-ms (half of
 * it outside the main configuration), from the rate of the unmeasured
 * sizing run; never less than --mib.
 */
static size_t bulk_bytes(int x, int d, int s, int i, int n, double est)
{
    double secs = bench_opt.run_ms / 1000.0, b;
    size_t min = (size_t)bench_opt.mib << 20, out;

    if (x != BENCH_SOCKETPAIR || d != 0)
        secs /= 2;
    b = isnan(est) || est <= 0 ? 0 : est * 1e6 * secs;
    if (b > 4.0 * 1024 * 1024 * 1024)
        b = 4.0 * 1024 * 1024 * 1024;
    out = b > (double)min ? (size_t)b : min;
    out = (out + bench_opt.chunk - 1) / bench_opt.chunk * bench_opt.chunk;
    if (d)
        out /= 2;
    (void)s;
    (void)i;
    (void)n;
    return out;
}

static void phase_bulk(struct bench_tls *t)
{
    static double est[BENCH_XPORTS][2][BENCH_SUITES][BENCH_IMPLS][BENCH_NDEPTH];
    struct bench_bulk_cfg cfg;
    struct bench_bulk_out out;
    int r, x, d, s, i, n, first_x = bench_opt.xport[0] ? 0 : 1;
    const char *what;

    /* Run -1 checks the data by SHA-256, run 0 sizes; 1.. are measured. */
    for (r = -1; r <= bench_opt.runs; r++) {
        what = r < 0 ? "SHA-256 check run"
            : r == 0 ? "warm-up and sizing run"
                     : "measured run";
        bench_log("bulk: %s %d/%d\n", what, r < 1 ? 0 : r, bench_opt.runs);
        for (x = 0; x < BENCH_XPORTS; x++) {
            for (d = 0; d < 2; d++) {
                for (s = 0; s < BENCH_SUITES; s++) {
                    if (!bench_opt.xport[x] || !bench_opt.dir[d]
                        || !bench_opt.suite[s])
                        continue;
                    if (r >= 1 && d == 0 && x == first_x
                        && bench_opt.part[BENCH_PART_CIPHER])
                        measure_cipher(t, s, r - 1);
                    for (i = 0; i < BENCH_IMPLS; i++) {
                        for (n = 0; n <= bench_opt.depth_max; n++) {
                            if (!impl_at(i, n))
                                continue;
                            memset(&cfg, 0, sizeof(cfg));
                            cfg.impl = i;
                            cfg.depth = n;
                            cfg.suite = s;
                            cfg.xport = x;
                            cfg.both = d;
                            cfg.verify = r < 0;
                            cfg.chunk = bench_opt.chunk;
                            if (r < 1) {
                                cfg.bytes = (size_t)bench_opt.mib << 20;
                                if (d)
                                    cfg.bytes /= 2;
                            } else {
                                cfg.bytes = bulk_bytes(x, d, s, i, n,
                                                       est[x][d][s][i][n]);
                            }
                            if (!bench_bulk(t, &cfg, &out)) {
                                fail_note("bulk %s %s %s %s depth %d (%s)",
                                          bench_xport_name(x),
                                          d ? "both ways" : "one way",
                                          bench_suite_name(s),
                                          bench_impl_name(i), n, what);
                                bench_res.bulk_fail[x][d][s][i][n] = 1;
                                if (r == 0)
                                    est[x][d][s][i][n] = NAN;
                                if (r > 0)
                                    bench_res.bulk[x][d][s][i][n][r - 1] = NAN;
                                if (r > 0 && !d) {
                                    bench_res.bulk_cpu[x][s][i][n][0][r - 1] =
                                        NAN;
                                    bench_res.bulk_cpu[x][s][i][n][1][r - 1] =
                                        NAN;
                                }
                                continue;
                            }
                            if (r < 0) {
                                bench_res.bulk_verified[x][d][s][i][n] = 1;
                            } else if (r == 0) {
                                est[x][d][s][i][n] = out.mbps;
                            } else {
                                bench_res.bulk[x][d][s][i][n][r - 1] = out.mbps;
                                bench_res.bulk_mib[x][d][s][i][n] =
                                    (double)cfg.bytes * (d ? 2 : 1) / (1 << 20);
                                if (!d) {
                                    double mib = (double)cfg.bytes / (1 << 20);

                                    bench_res.bulk_cpu[x][s][i][n][0][r - 1] =
                                        out.cpu_send * 1e6 / mib;
                                    bench_res.bulk_cpu[x][s][i][n][1][r - 1] =
                                        out.cpu_recv * 1e6 / mib;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    bench_res.have_bulk = 1;
}

static void phase_wire(struct bench_tls *t)
{
    struct bench_bulk_cfg cfg;
    struct bench_bulk_out out;
    struct bench_wire *w;
    double mib;
    int r, s, i, n;

    for (r = 0; r < bench_opt.runs; r++) {
        bench_log("wire and transport calls %d/%d\n", r + 1, bench_opt.runs);
        for (s = 0; s < BENCH_SUITES; s++) {
            if (!bench_opt.suite[s])
                continue;
            for (i = 0; i < BENCH_IMPLS; i++) {
                for (n = 0; n <= bench_opt.depth_max; n++) {
                    if (!impl_at(i, n))
                        continue;
                    memset(&cfg, 0, sizeof(cfg));
                    cfg.impl = i;
                    cfg.depth = n;
                    cfg.suite = s;
                    cfg.xport = BENCH_SOCKETPAIR;
                    cfg.count = 1;
                    cfg.chunk = bench_opt.chunk;
                    cfg.bytes = (size_t)(bench_opt.quick ? 4 : 16) << 20;
                    w = &bench_res.wire[s][i][n][r];
                    if (!bench_bulk(t, &cfg, &out)) {
                        fail_note("wire %s %s depth %d", bench_suite_name(s),
                                  bench_impl_name(i), n);
                        w->ratio = w->records = w->writes = w->reads = NAN;
                        w->allocs = w->onion_allocs = NAN;
                        continue;
                    }
                    mib = (double)cfg.bytes / (1 << 20);
                    w->ratio = (double)out.sent.wbytes / (double)cfg.bytes;
                    w->records = (double)out.sent.records / mib;
                    w->writes = (double)out.sent.wcalls / mib;
                    w->reads = (double)out.recv.rcalls / mib;
                    w->allocs = (double)out.allocs / mib;
                    w->onion_allocs = (double)out.onion_allocs / mib;
                }
            }
        }
    }
    bench_res.have_wire = 1;
}

static void phase_handshake(struct bench_tls *t)
{
    static const int suites[2] = { BENCH_T13_AES, BENCH_T12_AES };
    struct bench_hs_out out;
    int r, k, i, n;

    for (r = 0; r <= bench_opt.hs_runs; r++) {
        if (r == 0 || r == bench_opt.hs_runs)
            bench_log("handshakes %d/%d\n", r, bench_opt.hs_runs);
        for (k = 0; k < 2; k++) {
            if (!bench_opt.suite[suites[k]])
                continue;
            for (n = 1; n <= 4; n++) {
                for (i = BENCH_ONION; i <= BENCH_CHAIN; i++) {
                    if (!bench_opt.impl[i])
                        continue;
                    if (!bench_handshake(t, i, n, suites[k], &out)) {
                        fail_note("handshake %s %s depth %d",
                                  bench_suite_name(suites[k]),
                                  bench_impl_name(i), n);
                        bench_res.hs_fail[k][i][n] = 1;
                        out.wall = out.cpu = NAN;
                        out.cpu_cli = out.cpu_srv = NAN;
                        out.turns = 0;
                    }
                    if (r > 0)
                        bench_res.hs[k][i][n][r - 1] = out;
                }
            }
        }
    }
    bench_res.have_hs = 1;
}

static void phase_small(struct bench_tls *t)
{
    struct bench_small_out o;
    int r, i, n;

    for (r = 0; r <= bench_opt.runs; r++) {
        bench_log("small messages %d/%d\n", r, bench_opt.runs);
        for (n = 0; n <= 4; n++) {
            for (i = 0; i < BENCH_IMPLS; i++) {
                if (!bench_opt.impl[i] || (i == BENCH_RAW && n > 0)
                    || (i == BENCH_CHAIN && n == 0))
                    continue;
                if (!bench_small(t, i, n,
                                 r == 0 ? bench_opt.msgs / 10 + 1
                                        : bench_opt.msgs,
                                 &o)) {
                    fail_note("small messages %s depth %d", bench_impl_name(i),
                              n);
                    o.rtps = o.cpu_us = o.allocs = o.onion_allocs = NAN;
                }
                if (r > 0) {
                    bench_res.small[i][n][r - 1] = o.rtps;
                    bench_res.small_cpu[i][n][r - 1] = o.cpu_us;
                    bench_res.small_allocs[i][n][r - 1] = o.allocs;
                    bench_res.small_onion_allocs[i][n][r - 1] = o.onion_allocs;
                }
            }
        }
    }
    bench_res.have_small = 1;
}

static void phase_memory(struct bench_tls *t)
{
    struct bench_mem_out out;
    int r, i, n, rel;

    bench_res.sslbio = bench_sslbio_bytes();
    for (r = 0; r < bench_opt.runs; r++) {
        bench_log("memory %d/%d (%d connections per figure)\n", r + 1,
                  bench_opt.runs, bench_opt.mem_conns);
        for (n = 1; n <= 4; n++) {
            for (rel = 0; rel < 2; rel++) {
                for (i = BENCH_ONION; i <= BENCH_CHAIN; i++) {
                    if (!bench_opt.impl[i])
                        continue;
                    if (!bench_memory(t, i, n, rel, bench_opt.mem_conns,
                                      &out)) {
                        fail_note("memory %s depth %d%s", bench_impl_name(i), n,
                                  rel ? " RELEASE_BUFFERS" : "");
                        out.client = out.server = NAN;
                        out.onion_client = out.onion_server = NAN;
                        out.heap = NAN;
                    }
                    bench_res.mem[i][n][rel][r] = out;
                }
            }
        }
    }
    bench_res.have_mem = 1;
}

static void phase_idle(struct bench_tls *t)
{
    int i;

    for (i = BENCH_ONION; i <= BENCH_CHAIN; i++) {
        if (!bench_opt.impl[i])
            continue;
        bench_log("%d idle depth-3 connections: %s\n", bench_opt.conns,
                  bench_impl_name(i));
        bench_res.idle_ran[i] = 1;
        bench_res.idle_ok[i] = bench_idle(
            t, i, 3, bench_opt.conns, bench_opt.runs < 5 ? 5 : bench_opt.runs,
            &bench_res.idle[i]);
        if (!bench_res.idle_ok[i])
            fail_note("idle connections %s", bench_impl_name(i));
    }
}

/* Every stored figure starts as NAN: a run that never happened is no 0. */
static void results_init(void)
{
    double *d;
    size_t i, n;
    int a, b, c, r;

    d = &bench_res.cipher[0][0];
    n = sizeof(bench_res.cipher) / sizeof(double);
    for (i = 0; i < n; i++)
        d[i] = NAN;
    d = &bench_res.bulk[0][0][0][0][0][0];
    n = sizeof(bench_res.bulk) / sizeof(double);
    for (i = 0; i < n; i++)
        d[i] = NAN;
    d = &bench_res.seal[0][0];
    n = sizeof(bench_res.seal) / sizeof(double);
    for (i = 0; i < n; i++)
        d[i] = NAN;
    d = &bench_res.open[0][0];
    n = sizeof(bench_res.open) / sizeof(double);
    for (i = 0; i < n; i++)
        d[i] = NAN;
    d = &bench_res.bulk_cpu[0][0][0][0][0][0];
    n = sizeof(bench_res.bulk_cpu) / sizeof(double);
    for (i = 0; i < n; i++)
        d[i] = NAN;
    d = &bench_res.small[0][0][0];
    n = sizeof(bench_res.small) / sizeof(double);
    for (i = 0; i < n; i++)
        d[i] = NAN;
    d = &bench_res.small_cpu[0][0][0];
    n = sizeof(bench_res.small_cpu) / sizeof(double);
    for (i = 0; i < n; i++)
        d[i] = NAN;
    d = &bench_res.small_allocs[0][0][0];
    n = sizeof(bench_res.small_allocs) / sizeof(double);
    for (i = 0; i < n; i++)
        d[i] = NAN;
    d = &bench_res.small_onion_allocs[0][0][0];
    n = sizeof(bench_res.small_onion_allocs) / sizeof(double);
    for (i = 0; i < n; i++)
        d[i] = NAN;
    d = &bench_res.wire[0][0][0][0].ratio;
    n = sizeof(bench_res.wire) / sizeof(double);
    for (i = 0; i < n; i++)
        d[i] = NAN;
    for (a = 0; a < 2; a++) {
        for (b = 0; b < BENCH_IMPLS; b++) {
            for (c = 0; c < 5; c++) {
                for (r = 0; r < BENCH_MAX_RUNS; r++) {
                    struct bench_hs_out *h = &bench_res.hs[a][b][c][r];
                    struct bench_mem_out *m = &bench_res.mem[b][c][a][r];

                    h->wall = h->cpu = h->cpu_cli = h->cpu_srv = NAN;
                    m->client = m->server = NAN;
                    m->onion_client = m->onion_server = m->heap = NAN;
                }
            }
        }
    }
}

static void machine_info(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    struct utsname u;
    char line[256], *p;

    snprintf(bench_res.cpu, sizeof(bench_res.cpu), "unknown CPU");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "model name", 10) == 0
            && (p = strchr(line, ':')) != NULL) {
            p += 2;
            p[strcspn(p, "\n")] = '\0';
            snprintf(bench_res.cpu, sizeof(bench_res.cpu), "%s", p);
            break;
        }
    }
    if (f != NULL)
        fclose(f);
    if (uname(&u) == 0)
        snprintf(bench_res.os, sizeof(bench_res.os), "%s %s %s", u.sysname,
                 u.release, u.machine);
    bench_res.ncpu = bench_cpus();
}

/* Runs a phase and records how long it took. */
#define TIMED(part, call)                                                      \
    do {                                                                       \
        double t_ = bench_now();                                               \
        call;                                                                  \
        bench_res.phase_secs[part] = bench_now() - t_;                         \
    } while (0)

int main(int argc, char **argv)
{
    struct bench_tls tls;
    double t0;
    int i, ok;

    /* Before anything allocates through OpenSSL. */
    bench_res.mem_hook = bench_mem_install();
    if (!bench_parse_opts(argc, argv))
        return 2;
    signal(SIGPIPE, SIG_IGN);
    t0 = bench_now();
    results_init();
    machine_info();
    bench_load_avg(bench_res.load_start, sizeof(bench_res.load_start));
    if (BIO_f_onion() == NULL) {
        bench_errors("BIO_f_onion");
        return 1;
    }
    if (!bench_tls_init(&tls))
        return 1;
    for (i = 0; i < BENCH_PARTS; i++)
        if (bench_opt.part[i])
            bench_res.parts_run++;
    /* limit(N) needs the cipher's speed: --only bulk alone has no limit. */
    /*
     * limit(N) needs the cipher's speed: --only bulk alone has no limit.
     * With bulk runs, each run measures it just before its raw transfer,
     * so that A and R see the same machine.
     */
    if (bench_opt.part[BENCH_PART_CIPHER] && !bench_opt.part[BENCH_PART_BULK])
        TIMED(BENCH_PART_CIPHER, phase_cipher(&tls));
    if (bench_opt.part[BENCH_PART_BULK])
        TIMED(BENCH_PART_BULK, phase_bulk(&tls));
    if (bench_opt.part[BENCH_PART_WIRE])
        TIMED(BENCH_PART_WIRE, phase_wire(&tls));
    if (bench_opt.part[BENCH_PART_HANDSHAKE])
        TIMED(BENCH_PART_HANDSHAKE, phase_handshake(&tls));
    if (bench_opt.part[BENCH_PART_SMALL])
        TIMED(BENCH_PART_SMALL, phase_small(&tls));
    if (bench_opt.part[BENCH_PART_MEMORY])
        TIMED(BENCH_PART_MEMORY, phase_memory(&tls));
    if (bench_opt.part[BENCH_PART_IDLE])
        TIMED(BENCH_PART_IDLE, phase_idle(&tls));
    bench_res.total_secs = bench_now() - t0;
    ok = bench_report(argc, argv, &tls);
    bench_tls_free(&tls);
    if (bench_res.failures > 0)
        fprintf(stderr,
                "onion-bench: %d measurement(s) FAILED (see above "
                "and the report)\n",
                bench_res.failures);
    return ok && bench_res.failures == 0 ? 0 : 1;
}
