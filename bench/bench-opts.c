/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/* onion-bench command-line options and their defaults (full and quick). */

#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct bench_opts bench_opt;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: onion-bench [options]\n"
            "  --quick            small sizes: a check that runs in about "
            "a minute\n"
            "  --only LIST        parts to run, from: cipher,bulk,wire,"
            "handshake,small,memory,idle\n"
            "  --suites LIST      from: t13-aes128gcm,t13-chacha20,"
            "t12-aes128gcm\n"
            "  --transports LIST  from: socketpair,tcp\n"
            "  --directions LIST  from: one,both\n"
            "  --impls LIST       stacks, from: raw,onion,chain (a subset "
            "leaves\n"
            "                     ratios unmeasured; for profiling)\n"
            "  --depth-max N      deepest bulk stack (0..%d)\n"
            "  --depth-min N      shallowest bulk stack (for profiling)\n"
            "  --runs N           measured runs per figure (default 5)\n"
            "  --mib N            MiB of the sizing run, and the least "
            "per bulk run\n"
            "  --run-ms N         duration of a measured bulk run (main "
            "configuration;\n"
            "                     the others get half)\n"
            "  --chunk KIB        application write size in KiB (default "
            "256)\n"
            "  --msgs N           round trips per small-message run\n"
            "  --hs-runs N        runs per handshake figure\n"
            "  --mem-conns N      connections per memory run\n"
            "  --conns N          idle connections held at once\n"
            "  --out DIR          write results.md there\n"
            "  --data DIR         write gnuplot data and plots.gp there "
            "(default: --out)\n"
            "  --command TEXT     the command to name in the report\n",
            BENCH_MAX_DEPTH);
}

static int parse_list(const char *arg, const char *const *names, int n,
                      int *sel)
{
    char *copy = strdup(arg), *tok, *save = NULL;
    int i, found, ok = copy != NULL;

    for (i = 0; i < n; i++)
        sel[i] = 0;
    for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        found = 0;
        for (i = 0; i < n; i++) {
            if (strcmp(tok, names[i]) == 0) {
                sel[i] = 1;
                found = 1;
            }
        }
        if (!found) {
            fprintf(stderr, "onion-bench: unknown name '%s'\n", tok);
            ok = 0;
        }
    }
    free(copy);
    return ok;
}

static int parse_int(const char *arg, int lo, int hi, int *v)
{
    char *end;
    long x = strtol(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || x < lo || x > hi) {
        fprintf(stderr, "onion-bench: '%s' is not a number in %d..%d\n", arg,
                lo, hi);
        return 0;
    }
    *v = (int)x;
    return 1;
}

static const char *const part_names[BENCH_PARTS] = {
    "cipher", "bulk", "wire", "handshake", "small", "memory", "idle",
};

int bench_parse_opts(int argc, char **argv)
{
    static const struct option lo[] = {
        { "quick", no_argument, NULL, 'q' },
        { "only", required_argument, NULL, 'o' },
        { "suites", required_argument, NULL, 's' },
        { "transports", required_argument, NULL, 't' },
        { "directions", required_argument, NULL, 'D' },
        { "impls", required_argument, NULL, 'I' },
        { "depth-max", required_argument, NULL, 'd' },
        { "depth-min", required_argument, NULL, 'n' },
        { "runs", required_argument, NULL, 'r' },
        { "mib", required_argument, NULL, 'm' },
        { "run-ms", required_argument, NULL, 'T' },
        { "chunk", required_argument, NULL, 'k' },
        { "msgs", required_argument, NULL, 'M' },
        { "hs-runs", required_argument, NULL, 'H' },
        { "mem-conns", required_argument, NULL, 'C' },
        { "conns", required_argument, NULL, 'c' },
        { "out", required_argument, NULL, 'O' },
        { "data", required_argument, NULL, 'A' },
        { "command", required_argument, NULL, 'X' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const char *const xport_names[] = { "socketpair", "tcp" };
    static const char *const dir_names[] = { "one", "both" };
    static const char *const impl_names[] = { "raw", "onion", "chain" };
    const char *suite_names[BENCH_SUITES];
    int c, i, quick = 0, v;
    int mib = -1, msgs = -1, hs = -1, memc = -1, conns = -1, runms = -1;

    for (i = 0; i < BENCH_SUITES; i++)
        suite_names[i] = bench_suite_name(i);
    for (i = 0; i < BENCH_PARTS; i++)
        bench_opt.part[i] = 1;
    for (i = 0; i < BENCH_SUITES; i++)
        bench_opt.suite[i] = 1;
    bench_opt.xport[0] = bench_opt.xport[1] = 1;
    bench_opt.dir[0] = bench_opt.dir[1] = 1;
    for (i = 0; i < BENCH_IMPLS; i++)
        bench_opt.impl[i] = 1;
    bench_opt.depth_max = BENCH_MAX_DEPTH;
    bench_opt.runs = 5;
    bench_opt.chunk = 256 * 1024;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'q':
            quick = 1;
            break;
        case 'o':
            if (!parse_list(optarg, part_names, BENCH_PARTS, bench_opt.part))
                return 0;
            break;
        case 's':
            if (!parse_list(optarg, suite_names, BENCH_SUITES, bench_opt.suite))
                return 0;
            break;
        case 't':
            if (!parse_list(optarg, xport_names, BENCH_XPORTS, bench_opt.xport))
                return 0;
            break;
        case 'D':
            if (!parse_list(optarg, dir_names, 2, bench_opt.dir))
                return 0;
            break;
        case 'I':
            if (!parse_list(optarg, impl_names, BENCH_IMPLS, bench_opt.impl))
                return 0;
            break;
        case 'd':
            if (!parse_int(optarg, 0, BENCH_MAX_DEPTH, &bench_opt.depth_max))
                return 0;
            break;
        case 'n':
            if (!parse_int(optarg, 0, BENCH_MAX_DEPTH, &bench_opt.depth_min))
                return 0;
            break;
        case 'r':
            if (!parse_int(optarg, 1, BENCH_MAX_RUNS, &bench_opt.runs))
                return 0;
            break;
        case 'm':
            if (!parse_int(optarg, 1, 4096, &mib))
                return 0;
            break;
        case 'T':
            if (!parse_int(optarg, 1, 60000, &runms))
                return 0;
            break;
        case 'k':
            if (!parse_int(optarg, 1, 16384, &v))
                return 0;
            bench_opt.chunk = (size_t)v * 1024;
            break;
        case 'M':
            if (!parse_int(optarg, 1, 10000000, &msgs))
                return 0;
            break;
        case 'H':
            if (!parse_int(optarg, 1, BENCH_MAX_RUNS, &hs))
                return 0;
            break;
        case 'C':
            if (!parse_int(optarg, 1, 5000, &memc))
                return 0;
            break;
        case 'c':
            if (!parse_int(optarg, 5, 100000, &conns))
                return 0;
            break;
        case 'O':
            bench_opt.out = optarg;
            break;
        case 'A':
            bench_opt.data = optarg;
            break;
        case 'X':
            bench_opt.command = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return 0;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 0;
    }
    bench_opt.quick = quick;
    bench_opt.mib = mib > 0 ? mib : quick ? 4 : 16;
    bench_opt.run_ms = runms > 0 ? runms : quick ? 40 : 200;
    bench_opt.msgs = msgs > 0 ? msgs : quick ? 1000 : 10000;
    bench_opt.hs_runs = hs > 0 ? hs : quick ? 5 : 25;
    bench_opt.mem_conns = memc > 0 ? memc : quick ? 20 : 100;
    bench_opt.conns = conns > 0 ? conns : quick ? 1000 : 10000;
    if (bench_opt.data == NULL)
        bench_opt.data = bench_opt.out;
    return 1;
}
