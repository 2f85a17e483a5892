/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * onion-bench: many idle connections in one process.  The client ends live
 * in one forked child and the server ends in another, connected over a
 * Unix stream socket in the abstract namespace, so that each process needs
 * one descriptor per connection (the usual limit of 20,000 descriptors
 * would not hold both ends of 10,000 connections) and its resident size
 * grows from a trimmed heap.  Connections are opened in batches; after
 * each batch both processes report the bytes it added.  At the end every
 * connection answers one more 64-byte echo, to show they are all alive.
 *
 * The caller must have no other thread running: the child uses OpenSSL
 * after fork.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "bench.h"

struct idle_report {
    double live; /* OpenSSL-allocator bytes per connection */
    double heap; /* malloc heap bytes per connection */
    double rss;  /* resident bytes per connection */
    double secs; /* final report: seconds to open them all */
    int ok;
};

static int read_full_fd(int fd, void *p, size_t n)
{
    size_t done = 0;
    ssize_t k;

    while (done < n) {
        k = read(fd, (char *)p + done, n - done);
        if (k <= 0)
            return 0;
        done += (size_t)k;
    }
    return 1;
}

static int write_full_fd(int fd, const void *p, size_t n)
{
    size_t done = 0;
    ssize_t k;

    while (done < n) {
        k = write(fd, (const char *)p + done, n - done);
        if (k <= 0)
            return 0;
        done += (size_t)k;
    }
    return 1;
}

static socklen_t idle_addr(struct sockaddr_un *sa)
{
    static int seq;
    int n;

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    /* Abstract namespace: sun_path[0] is NUL, nothing on the filesystem. */
    n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1,
                 "onion-bench.%ld.%d", (long)getpid(), seq++);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static int raise_nofile(int need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)need) {
        bench_log("  error: %d connections need %d descriptors per "
                  "process; RLIMIT_NOFILE allows %llu\n",
                  need - 64, need, (unsigned long long)rl.rlim_cur);
        return 0;
    }
    return 1;
}

struct idle_job {
    struct bench_tls *tls;
    int impl;
    int depth;
    int client;
    int per; /* connections per batch */
    int batches;
    int lfd;               /* server: the listener */
    struct sockaddr_un sa; /* client: where to connect */
    socklen_t salen;
    int rep; /* reports to the parent */
};

static int open_one(const struct idle_job *j, struct bench_stack *st)
{
    SSL_CTX *ctx = j->client ? j->tls->client[BENCH_T13_AES][1]
                             : j->tls->server[BENCH_T13_AES][1];
    int fd;

    if (j->client) {
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd >= 0
            && connect(fd, (const struct sockaddr *)&j->sa, j->salen) != 0) {
            close(fd);
            fd = -1;
        }
    } else {
        fd = accept(j->lfd, NULL, NULL);
    }
    if (fd < 0) {
        bench_log("  error: %s: %s\n", j->client ? "connect" : "accept",
                  strerror(errno));
        return 0;
    }
    if (!bench_set_timeouts(fd, 30)
        || !bench_stack_new(st, j->impl, j->depth, ctx, j->client, fd, NULL)) {
        close(fd);
        return 0;
    }
    return bench_stack_handshake(st) && bench_ping(st->top, j->client);
}

static void idle_child(const struct idle_job *j) __attribute__((noreturn));

/*
 * idle_child opens and holds one end of every connection, reporting the
 * bytes each batch added; then the client sends one more echo on every
 * connection and the server answers them all.  It never returns.
 */
static void idle_child(const struct idle_job *j)
{
    int conns = j->per * j->batches, b, i, n = 0;
    struct bench_stack *st = calloc((size_t)conns, sizeof(*st));
    struct idle_report r;
    struct bench_mem m0, m1;
    long long h0, h1, rss0, rss1;
    double t0;

#ifdef __linux__
    /* Never outlive the benchmark, whatever happens to it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    bench_pin(j->client ? 0 : 1);
    bench_mem_set_tag(j->client ? BENCH_TAG_CLIENT : BENCH_TAG_SERVER);
    if (st == NULL)
        _exit(1);
    bench_heap_trim();
    t0 = bench_now();
    for (b = 0; b < j->batches; b++) {
        bench_mem_get(j->client ? BENCH_TAG_CLIENT : BENCH_TAG_SERVER, &m0);
        h0 = bench_heap_in_use();
        rss0 = bench_rss();
        for (i = 0; i < j->per; i++, n++) {
            if (!open_one(j, &st[n])) {
                bench_errors(j->client ? "idle connections (client)"
                                       : "idle connections (server)");
                _exit(1);
            }
        }
        bench_mem_get(j->client ? BENCH_TAG_CLIENT : BENCH_TAG_SERVER, &m1);
        h1 = bench_heap_in_use();
        rss1 = bench_rss();
        memset(&r, 0, sizeof(r));
        r.live = (double)(m1.live - m0.live) / j->per;
        r.heap = h0 < 0 ? -1 : (double)(h1 - h0) / j->per;
        r.rss = rss0 < 0 ? -1 : (double)(rss1 - rss0) / j->per;
        r.ok = 1;
        if (!write_full_fd(j->rep, &r, sizeof(r)))
            _exit(1);
    }
    memset(&r, 0, sizeof(r));
    r.secs = bench_now() - t0;
    r.ok = 1;
    for (i = 0; i < n; i++) {
        if (!bench_ping(st[i].top, j->client))
            r.ok = 0;
    }
    if (!write_full_fd(j->rep, &r, sizeof(r)))
        _exit(1);
    /* The system frees everything; the peer has its echoes queued. */
    _exit(0);
}

static pid_t spawn(const struct idle_job *j, int close_fd)
{
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        if (close_fd >= 0)
            close(close_fd);
        idle_child(j);
    }
    return pid;
}

int bench_idle(struct bench_tls *t, int impl, int depth, int conns, int batches,
               struct bench_idle_out *out)
{
    struct idle_job job;
    struct idle_report r;
    int crep[2] = { -1, -1 }, srep[2] = { -1, -1 }, lfd = -1, status;
    int b, ok = 0, k;
    pid_t cpid = -1, spid = -1;

    memset(out, 0, sizeof(*out));
    if (batches < 1 || batches > BENCH_MAX_RUNS || conns < batches)
        return 0;
    memset(&job, 0, sizeof(job));
    job.tls = t;
    job.impl = impl;
    job.depth = depth;
    job.per = conns / batches;
    job.batches = batches;
    out->conns = job.per * batches;
    out->batches = batches;
    if (!raise_nofile(out->conns + 64))
        return 0;
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    job.salen = idle_addr(&job.sa);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&job.sa, job.salen) != 0
        || listen(lfd, 64) != 0 || pipe(crep) != 0 || pipe(srep) != 0) {
        bench_log("  error: idle connections: %s\n", strerror(errno));
        goto end;
    }
    job.lfd = lfd;
    job.client = 0;
    job.rep = srep[1];
    spid = spawn(&job, srep[0]);
    if (spid < 0)
        goto end;
    job.lfd = -1;
    job.client = 1;
    job.rep = crep[1];
    cpid = spawn(&job, crep[0]);
    if (cpid < 0)
        goto end;
    close(crep[1]);
    close(srep[1]);
    crep[1] = srep[1] = -1;
    close(lfd);
    lfd = -1;

    for (b = 0; b < batches; b++) {
        if (!read_full_fd(crep[0], &r, sizeof(r)) || !r.ok)
            goto end;
        out->client[b] = r.live;
        out->heap_client[b] = r.heap;
        out->rss_client[b] = r.rss;
        if (!read_full_fd(srep[0], &r, sizeof(r)) || !r.ok)
            goto end;
        out->server[b] = r.live;
        out->heap_server[b] = r.heap;
        out->rss_server[b] = r.rss;
    }
    k = read_full_fd(crep[0], &r, sizeof(r)) && r.ok;
    out->setup_secs = r.secs;
    k = read_full_fd(srep[0], &r, sizeof(r)) && r.ok && k;
    out->live_ok = k;
    if (!k)
        bench_log("  error: not every idle connection answered\n");
    ok = k;
end:
    if (cpid > 0) {
        if (!ok)
            kill(cpid, SIGKILL);
        if (waitpid(cpid, &status, 0) != cpid || !WIFEXITED(status)
            || WEXITSTATUS(status) != 0)
            ok = 0;
    }
    if (spid > 0) {
        if (!ok)
            kill(spid, SIGKILL);
        if (waitpid(spid, &status, 0) != spid || !WIFEXITED(status)
            || WEXITSTATUS(status) != 0)
            ok = 0;
    }
    if (lfd >= 0)
        close(lfd);
    if (crep[0] >= 0)
        close(crep[0]);
    if (crep[1] >= 0)
        close(crep[1]);
    if (srep[0] >= 0)
        close(srep[0]);
    if (srep[1] >= 0)
        close(srep[1]);
    return ok;
}
