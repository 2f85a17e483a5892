/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * load-client: many concurrent nested TLS clients against onion-server
 * -echo -inband, in one thread and one poll() loop over non-blocking
 * sockets, each client an onion BIO over a socket BIO.
 *
 * A well-behaved client pushes its layers, then runs a random script of
 * data exchanges (text lines, every byte of the echo compared with what
 * was sent and the whole stream checked by SHA-256), STOPTLS lines (the
 * client pops right after the line) and STARTTLS lines (the client pushes
 * right after the line).  When its script is done it holds its connection
 * until every well-behaved client of the round is done too, so that all
 * of them are open at once, then pops every layer with STOPTLS and closes.
 * Hostile clients send garbage (on the wire or inside a layer), stall (go
 * silent mid-handshake or mid-stream), or drop the connection (a reset)
 * at a random point.
 *
 * Rounds: every round runs all clients; before the first and after each,
 * the client waits for the server to settle and samples its descriptors
 * and resident memory (VmRSS) from /proc.  The run fails when a
 * well-behaved client did not get all its data back, when the server holds
 * more descriptors after a round than when idle, or when its resident
 * memory after a round is not back to its idle level (within the
 * tolerance).
 */

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <bio_onion.h>

#include "load-client.h"

/* Descriptors and resident memory of the server, from /proc. */
static int server_fds(int pid)
{
    char path[64];
    DIR *d;
    struct dirent *e;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    if ((d = opendir(path)) == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static long server_rss_kb(int pid)
{
    char path[64], line[256];
    FILE *f;
    long kb = -1;

    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* Waits until the server holds |want| descriptors or |secs| pass. */
static int settle_fds(int pid, int want, int secs)
{
    int n = server_fds(pid), i;

    for (i = 0; i < secs * 10 && n != want; i++) {
        usleep(100000);
        n = server_fds(pid);
    }
    return n;
}

/* Counts a finished connection once; reports a well-behaved failure. */
static void reap(LC *lc, LC_CONN *c, int round, int *reported)
{
    if (!c->failed || c->why[0] == '\0')
        return;
    if (c->kind == K_GOOD) {
        if ((*reported)++ < 10)
            fprintf(stderr, "load-client: round %d client %d: %s\n", round,
                    c->id, c->why);
        lc->good_failed++;
        good_done(lc, c);
    } else {
        lc->hostile_done++;
    }
    conn_free(lc, c);
    c->why[0] = '\0';
}

static int run_round(LC *lc, int round, long *rss_peak)
{
    struct pollfd *pfd;
    int *idx;
    int i, started = 0, live, np, r, connecting, reported = 0;
    time_t t0 = time(NULL), now, last_sample = 0;
    long rss;

    lc->good_left = 0;
    for (i = 0; i < lc->clients; i++) {
        init_conn(lc, &lc->conns[i], i, round);
        lc->good_left += lc->conns[i].kind == K_GOOD;
    }
    pfd = calloc((size_t)lc->clients, sizeof(*pfd));
    idx = calloc((size_t)lc->clients, sizeof(*idx));
    if (pfd == NULL || idx == NULL) {
        free(pfd);
        free(idx);
        return 0;
    }
    for (;;) {
        now = time(NULL);
        /* Connect a batch at a time: the listen queue is finite. */
        connecting = 0;
        for (i = 0; i < started; i++)
            connecting += lc->conns[i].state == S_CONNECT
                || lc->conns[i].state == S_SETUP;
        while (started < lc->clients && connecting < 200) {
            LC_CONN *c = &lc->conns[started++];

            if (start_conn(lc, c))
                connecting++;
        }
        live = np = 0;
        for (i = 0; i < started; i++) {
            LC_CONN *c = &lc->conns[i];
            int k;

            if (c->state == S_DONE) {
                reap(lc, c, round, &reported);
                continue;
            }
            live++;
            /* Timed states look at the clock once a second at least. */
            if (c->ready
                || ((c->state == S_HOLD || c->state == S_STALL)
                    && now - c->since >= 1)) {
                c->ready = 0;
                for (k = 0; k < 64 && c->state != S_DONE; k++) {
                    ERR_clear_error();
                    if (!step(lc, c))
                        break;
                }
                /* Still moving: come back without waiting for poll. */
                if (k == 64)
                    c->ready = 1;
            }
            if (c->state == S_DONE) {
                reap(lc, c, round, &reported);
                continue;
            }
            pfd[np].fd = c->fd;
            pfd[np].events = c->want != 0 ? c->want : POLLIN;
            pfd[np].revents = 0;
            idx[np++] = i;
        }
        if (live == 0 && started == lc->clients)
            break;
        if (now != last_sample && (now - t0) % 15 == 14) {
            /* A slow round: say where the clients are. */
            int count[S_DONE + 1] = { 0 };

            for (i = 0; i < started; i++)
                count[lc->conns[i].state]++;
            fprintf(stderr,
                    "load-client: round %d, %ld s: %d live, states:", round,
                    (long)(now - t0), live);
            for (i = 0; i < S_DONE; i++)
                if (count[i] > 0)
                    fprintf(stderr, " %s %d", lc_state_names[i], count[i]);
            fprintf(stderr, "; well-behaved not done %d\n", lc->good_left);
        }
        if (now != last_sample) {
            last_sample = now;
            rss = server_rss_kb(lc->server_pid);
            if (rss > *rss_peak)
                *rss_peak = rss;
        }
        if (now - t0 > 600) {
            fprintf(stderr,
                    "load-client: round %d: %d clients still running after "
                    "600 s\n",
                    round, live);
            free(pfd);
            free(idx);
            return 0;
        }
        for (i = 0; i < started; i++)
            if (lc->conns[i].ready)
                break;
        r = poll(pfd, (nfds_t)np, i < started ? 0 : 200);
        if (r < 0 && errno != EINTR) {
            perror("poll");
            free(pfd);
            free(idx);
            return 0;
        }
        for (i = 0; r > 0 && i < np; i++)
            if (pfd[i].revents != 0)
                lc->conns[idx[i]].ready = 1;
    }
    free(pfd);
    free(idx);
    return 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: load-client -connect 127.0.0.1:PORT -CAfile F "
            "-servername NAME -server-pid PID\n"
            "       [-clients N] [-hostile PERCENT] [-depth D] [-rounds R]\n"
            "       [-hold SECONDS] [-rss-tolerance KB] [-seed S]\n");
}

int main(int argc, char **argv)
{
    LC lc;
    const char *cafile = NULL, *connect_to = NULL;
    int fds_idle, fds_after = -1, round, i, ok = 1;
    long rss_idle, rss_peak = 0, rss_first = 0, rss_after = 0;
    struct rlimit rl;
    char host[64];
    const char *colon;
    time_t t0;

    memset(&lc, 0, sizeof(lc));
    lc.clients = 1000;
    lc.hostile_pct = 10;
    lc.rounds = 2;
    lc.hold_secs = 20;
    lc.initial_depth = 3;
    lc.rss_tolerance_kb = 16384;
    lc.seed = 1;
    /* Options come in pairs: -name value. */
    for (i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (v == NULL) {
            usage();
            return 2;
        }
        if (strcmp(a, "-connect") == 0)
            connect_to = v;
        else if (strcmp(a, "-CAfile") == 0)
            cafile = v;
        else if (strcmp(a, "-servername") == 0)
            lc.servername = v;
        else if (strcmp(a, "-server-pid") == 0)
            lc.server_pid = atoi(v);
        else if (strcmp(a, "-clients") == 0)
            lc.clients = atoi(v);
        else if (strcmp(a, "-hostile") == 0)
            lc.hostile_pct = atoi(v);
        else if (strcmp(a, "-depth") == 0)
            lc.initial_depth = atoi(v);
        else if (strcmp(a, "-rounds") == 0)
            lc.rounds = atoi(v);
        else if (strcmp(a, "-hold") == 0)
            lc.hold_secs = atoi(v);
        else if (strcmp(a, "-rss-tolerance") == 0)
            lc.rss_tolerance_kb = atol(v);
        else if (strcmp(a, "-seed") == 0)
            lc.seed = strtoull(v, NULL, 0);
        else {
            usage();
            return 2;
        }
    }
    if (connect_to == NULL || cafile == NULL || lc.servername == NULL
        || lc.server_pid <= 0 || lc.clients <= 0 || lc.rounds <= 0
        || lc.initial_depth < 1 || lc.initial_depth > LC_MAX_DEPTH
        || (colon = strrchr(connect_to, ':')) == NULL
        || (size_t)(colon - connect_to) >= sizeof(host)) {
        usage();
        return 2;
    }
    memcpy(host, connect_to, (size_t)(colon - connect_to));
    host[colon - connect_to] = '\0';
    lc.host = host;
    lc.port = atoi(colon + 1);
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0
        || rl.rlim_cur < (rlim_t)lc.clients + 64) {
        fprintf(stderr,
                "load-client: RLIMIT_NOFILE is %lu, %d clients need %d: "
                "raise it (ulimit -n)\n",
                (unsigned long)rl.rlim_cur, lc.clients, lc.clients + 64);
        return 1;
    }
    lc.ctx = SSL_CTX_new(TLS_client_method());
    if (lc.ctx == NULL
        || SSL_CTX_load_verify_locations(lc.ctx, cafile, NULL) != 1) {
        fprintf(stderr, "load-client: cannot load %s\n", cafile);
        ERR_print_errors_fp(stderr);
        return 1;
    }
    SSL_CTX_set_verify(lc.ctx, SSL_VERIFY_PEER, NULL);
    lc.conns = calloc((size_t)lc.clients, sizeof(*lc.conns));
    if (lc.conns == NULL)
        return 1;

    fds_idle = server_fds(lc.server_pid);
    rss_idle = server_rss_kb(lc.server_pid);
    if (fds_idle < 0 || rss_idle < 0) {
        fprintf(stderr, "load-client: cannot read /proc/%d\n", lc.server_pid);
        return 1;
    }
    printf("load-client: server pid %d idle: %d descriptors, %ld KB "
           "resident\n",
           lc.server_pid, fds_idle, rss_idle);
    for (round = 1; round <= lc.rounds; round++) {
        int ok_before = lc.good_ok, failed_before = lc.good_failed;
        int hostile_before = lc.hostile_done;

        lc.open_peak = lc.established_peak = 0;
        t0 = time(NULL);
        rss_peak = 0;
        if (!run_round(&lc, round, &rss_peak))
            ok = 0;
        fds_after = settle_fds(lc.server_pid, fds_idle, 30);
        sleep(1);
        rss_after = server_rss_kb(lc.server_pid);
        if (round == 1)
            rss_first = rss_after;
        printf("load-client: round %d: %d clients (%d well-behaved ok, %d "
               "failed; %d hostile), %d connections open at once, %d with "
               "all layers up at once, %llu bytes echoed, %lu pushes, %lu "
               "pops, %ld s; server after: %d descriptors, %ld KB resident "
               "(peak %ld KB)\n",
               round, lc.clients, lc.good_ok - ok_before,
               lc.good_failed - failed_before, lc.hostile_done - hostile_before,
               lc.open_peak, lc.established_peak, lc.bytes_echoed, lc.pushes,
               lc.pops, (long)(time(NULL) - t0), fds_after, rss_after,
               rss_peak);
        if (lc.good_failed != failed_before)
            ok = 0;
        if (fds_after != fds_idle) {
            printf("load-client: FAIL: the server holds %d descriptors after "
                   "round %d, %d when idle\n",
                   fds_after, round, fds_idle);
            ok = 0;
        }
        if (rss_after > rss_idle + lc.rss_tolerance_kb) {
            printf("load-client: FAIL: server resident memory is %ld KB "
                   "after round %d, %ld KB when idle (tolerance %ld KB): "
                   "memory was not returned (a leak, or freed memory the "
                   "allocator keeps: glibc gives it back on malloc_trim)\n",
                   rss_after, round, rss_idle, lc.rss_tolerance_kb);
            ok = 0;
        }
    }
    printf("load-client: %d well-behaved clients ok, %d failed; %d hostile; "
           "server idle %ld KB, after round 1 %ld KB, after round %d %ld KB; "
           "descriptors idle %d, after %d\n",
           lc.good_ok, lc.good_failed, lc.hostile_done, rss_idle, rss_first,
           lc.rounds, rss_after, fds_idle, fds_after);
    printf("load-client: %s\n", ok ? "PASS" : "FAIL");
    free(lc.conns);
    SSL_CTX_free(lc.ctx);
    return ok ? 0 : 1;
}
