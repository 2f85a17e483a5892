/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * onion-bench measurements of one connection pair in two threads (handshake
 * time, CPU and round trips; 64-byte round trips) and of many idle
 * connections held by two threads (memory per connection).  As in the bulk
 * runs, a side that fails shuts its sockets down so that its peer fails
 * too, and both still meet at every barrier.
 */

#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "bench.h"

/* Handshakes and small messages. */

struct pair_shared {
    struct bench_tls *tls;
    int impl;
    int depth;
    int suite;
    int msgs;
    pthread_barrier_t bar;
};

struct pair_side {
    struct pair_shared *sh;
    int client;
    int fd;
    int ok;
    double t0, t1, c0, c1;
    uint64_t turns;
    uint64_t wbytes;
    unsigned long long allocs;       /* during the measured part */
    unsigned long long onion_allocs; /* of which in bio_onion sources */
    struct bench_count cnt;
};

static void *hs_thread(void *arg)
{
    struct pair_side *s = arg;
    struct pair_shared *sh = s->sh;
    SSL_CTX *ctx = s->client ? sh->tls->client[sh->suite][0]
                             : sh->tls->server[sh->suite][0];
    struct bench_stack st = { NULL, s->fd, 0 };
    int ok;

    bench_pin(s->client ? 0 : 1);
    bench_mem_set_tag(s->client ? BENCH_TAG_CLIENT : BENCH_TAG_SERVER);
    ok = bench_stack_new(&st, sh->impl, sh->depth, ctx, s->client, s->fd,
                         &s->cnt);
    if (!ok)
        shutdown(s->fd, SHUT_RDWR);
    pthread_barrier_wait(&sh->bar);
    s->t0 = bench_now();
    s->c0 = bench_thread_cpu();
    ok = ok && bench_stack_handshake(&st);
    s->c1 = bench_thread_cpu();
    s->t1 = bench_now();
    s->turns = s->cnt.turns;
    s->wbytes = s->cnt.wbytes;
    /* The connection must carry data afterwards, or the figure is void. */
    ok = ok && bench_ping(st.top, s->client);
    if (!ok)
        shutdown(s->fd, SHUT_RDWR);
    pthread_barrier_wait(&sh->bar);
    if (st.top != NULL)
        bench_stack_free(&st);
    else
        close(s->fd);
    s->ok = ok;
    return NULL;
}

static void *small_thread(void *arg)
{
    struct pair_side *s = arg;
    struct pair_shared *sh = s->sh;
    SSL_CTX *ctx = s->client ? sh->tls->client[sh->suite][0]
                             : sh->tls->server[sh->suite][0];
    struct bench_stack st = { NULL, s->fd, 0 };
    struct bench_mem m0, m1;
    unsigned char req[64], resp[64];
    int ok, i;

    bench_pin(s->client ? 0 : 1);
    bench_mem_set_tag(s->client ? BENCH_TAG_CLIENT : BENCH_TAG_SERVER);
    memset(req, 0x5A, sizeof(req));
    ok = bench_stack_new(&st, sh->impl, sh->depth, ctx, s->client, s->fd, NULL)
        && bench_stack_handshake(&st) && bench_ping(st.top, s->client);
    if (!ok)
        shutdown(s->fd, SHUT_RDWR);
    pthread_barrier_wait(&sh->bar);
    bench_mem_get(s->client ? BENCH_TAG_CLIENT : BENCH_TAG_SERVER, &m0);
    s->t0 = bench_now();
    s->c0 = bench_thread_cpu();
    for (i = 0; ok && i < sh->msgs; i++) {
        if (s->client) {
            memcpy(req, &i, sizeof(i));
            ok = bench_write_all(st.top, req, sizeof(req))
                && bench_read_full(st.top, resp, sizeof(resp))
                && memcmp(req, resp, sizeof(req)) == 0;
        } else {
            ok = bench_read_full(st.top, resp, sizeof(resp))
                && bench_write_all(st.top, resp, sizeof(resp));
        }
    }
    s->t1 = bench_now();
    s->c1 = bench_thread_cpu();
    bench_mem_get(s->client ? BENCH_TAG_CLIENT : BENCH_TAG_SERVER, &m1);
    s->allocs = m1.allocs - m0.allocs;
    s->onion_allocs = m1.onion_allocs - m0.onion_allocs;
    if (!ok) {
        bench_errors("small messages");
        shutdown(s->fd, SHUT_RDWR);
    }
    pthread_barrier_wait(&sh->bar);
    if (st.top != NULL)
        bench_stack_free(&st);
    else
        close(s->fd);
    s->ok = ok;
    return NULL;
}

static int run_pair(struct pair_shared *sh, void *(*fn)(void *),
                    struct pair_side sd[2])
{
    int fds[2], ok, i;

    memset(sd, 0, 2 * sizeof(*sd));
    if (!bench_xport_pair(BENCH_SOCKETPAIR, fds))
        return 0;
    pthread_barrier_init(&sh->bar, NULL, 2);
    for (i = 0; i < 2; i++) {
        sd[i].sh = sh;
        sd[i].client = i == 0;
        sd[i].fd = fds[i];
    }
    ok = bench_run_two(fn, &sd[0], &sd[1]);
    pthread_barrier_destroy(&sh->bar);
    if (!ok) {
        close(fds[0]);
        close(fds[1]);
        return 0;
    }
    return sd[0].ok && sd[1].ok;
}

int bench_handshake(struct bench_tls *t, int impl, int depth, int suite,
                    struct bench_hs_out *out)
{
    struct pair_shared sh;
    struct pair_side sd[2];
    double start, end;

    memset(&sh, 0, sizeof(sh));
    sh.tls = t;
    sh.impl = impl;
    sh.depth = depth;
    sh.suite = suite;
    memset(out, 0, sizeof(*out));
    if (!run_pair(&sh, hs_thread, sd))
        return 0;
    start = sd[0].t0 < sd[1].t0 ? sd[0].t0 : sd[1].t0;
    end = sd[0].t1 > sd[1].t1 ? sd[0].t1 : sd[1].t1;
    out->wall = end - start;
    out->cpu_cli = sd[0].c1 - sd[0].c0;
    out->cpu_srv = sd[1].c1 - sd[1].c0;
    out->cpu = out->cpu_cli + out->cpu_srv;
    out->turns = sd[0].turns;
    out->wbytes = sd[0].wbytes + sd[1].wbytes;
    return 1;
}

int bench_small(struct bench_tls *t, int impl, int depth, int msgs,
                struct bench_small_out *out)
{
    struct pair_shared sh;
    struct pair_side sd[2];

    memset(&sh, 0, sizeof(sh));
    sh.tls = t;
    sh.impl = impl;
    sh.depth = depth;
    sh.suite = BENCH_T13_AES;
    sh.msgs = msgs;
    memset(out, 0, sizeof(*out));
    if (!run_pair(&sh, small_thread, sd))
        return 0;
    out->rtps = (double)msgs / (sd[0].t1 - sd[0].t0);
    out->cpu_us = (sd[0].c1 - sd[0].c0 + sd[1].c1 - sd[1].c0) * 1e6 / msgs;
    out->allocs = (double)(sd[0].allocs + sd[1].allocs) / msgs;
    out->onion_allocs =
        (double)(sd[0].onion_allocs + sd[1].onion_allocs) / msgs;
    return 1;
}

/*
 * Memory per idle connection.  Each side's thread first makes and frees one
 * connection (so that per-thread state such as its DRBGs exists already),
 * then the main thread takes a snapshot, the sides open |conns|
 * connections (handshake and one 64-byte echo each, then idle), and the
 * main thread takes the second snapshot while they hold them.
 */

struct mem_shared {
    struct bench_tls *tls;
    int impl;
    int depth;
    int release;
    int conns;
    int (*fds)[2];
    pthread_barrier_t bar;
};

struct mem_side {
    struct mem_shared *sh;
    int client;
    int ok;
};

static int open_conn(struct mem_shared *sh, int client, int fd,
                     struct bench_stack *st)
{
    SSL_CTX *ctx = client ? sh->tls->client[BENCH_T13_AES][sh->release]
                          : sh->tls->server[BENCH_T13_AES][sh->release];

    if (!bench_stack_new(st, sh->impl, sh->depth, ctx, client, fd, NULL))
        return 0;
    return bench_stack_handshake(st) && bench_ping(st->top, client);
}

static void *mem_thread(void *arg)
{
    struct mem_side *s = arg;
    struct mem_shared *sh = s->sh;
    int side = s->client ? 0 : 1;
    struct bench_stack warm = { NULL, -1, 0 }, *st;
    int ok, i, j, built = 0;

    bench_pin(side);
    bench_mem_set_tag(s->client ? BENCH_TAG_CLIENT : BENCH_TAG_SERVER);
    st = calloc((size_t)sh->conns, sizeof(*st));
    ok =
        st != NULL && open_conn(sh, s->client, sh->fds[sh->conns][side], &warm);
    if (warm.top != NULL)
        bench_stack_free(&warm);
    else
        close(sh->fds[sh->conns][side]);
    pthread_barrier_wait(&sh->bar); /* main: first snapshot */
    pthread_barrier_wait(&sh->bar);
    for (i = 0; ok && i < sh->conns; i++) {
        ok = open_conn(sh, s->client, sh->fds[i][side], &st[i]);
        if (st[i].top != NULL)
            built = i + 1;
    }
    if (!ok) {
        bench_errors("opening idle connections");
        for (j = built; j < sh->conns; j++)
            shutdown(sh->fds[j][side], SHUT_RDWR);
    }
    pthread_barrier_wait(&sh->bar); /* main: second snapshot */
    pthread_barrier_wait(&sh->bar);
    for (i = 0; i < sh->conns; i++) {
        if (st != NULL && st[i].top != NULL)
            bench_stack_free(&st[i]);
        else
            close(sh->fds[i][side]);
    }
    free(st);
    s->ok = ok;
    return NULL;
}

int bench_memory(struct bench_tls *t, int impl, int depth, int release,
                 int conns, struct bench_mem_out *out)
{
    struct mem_shared sh;
    struct mem_side sd[2];
    struct bench_mem c0, c1, s0, s1;
    long long h0, h1;
    pthread_t th[2];
    int i, n = 0, ok = 0;

    memset(out, 0, sizeof(*out));
    sh.tls = t;
    sh.impl = impl;
    sh.depth = depth;
    sh.release = release;
    sh.conns = conns;
    sh.fds = calloc((size_t)conns + 1, sizeof(*sh.fds));
    if (sh.fds == NULL)
        return 0;
    for (n = 0; n <= conns; n++) {
        if (!bench_xport_pair(BENCH_SOCKETPAIR, sh.fds[n]))
            goto end;
    }
    pthread_barrier_init(&sh.bar, NULL, 3);
    for (i = 0; i < 2; i++) {
        sd[i].sh = &sh;
        sd[i].client = i == 0;
        sd[i].ok = 0;
        if (pthread_create(&th[i], NULL, mem_thread, &sd[i]) != 0) {
            bench_log("  error: pthread_create\n");
            exit(2);
        }
    }
    pthread_barrier_wait(&sh.bar);
    bench_mem_get(BENCH_TAG_CLIENT, &c0);
    bench_mem_get(BENCH_TAG_SERVER, &s0);
    h0 = bench_heap_in_use();
    pthread_barrier_wait(&sh.bar);
    pthread_barrier_wait(&sh.bar);
    bench_mem_get(BENCH_TAG_CLIENT, &c1);
    bench_mem_get(BENCH_TAG_SERVER, &s1);
    h1 = bench_heap_in_use();
    pthread_barrier_wait(&sh.bar);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    pthread_barrier_destroy(&sh.bar);
    n = 0; /* every socket was closed by the threads */
    ok = sd[0].ok && sd[1].ok;
    out->client = (double)(c1.live - c0.live) / conns;
    out->server = (double)(s1.live - s0.live) / conns;
    out->onion_client = (double)(c1.onion_live - c0.onion_live) / conns;
    out->onion_server = (double)(s1.onion_live - s0.onion_live) / conns;
    out->heap = h0 < 0 ? -1 : (double)(h1 - h0) / conns;
end:
    for (i = 0; i < n; i++) {
        close(sh.fds[i][0]);
        close(sh.fds[i][1]);
    }
    free(sh.fds);
    return ok;
}
