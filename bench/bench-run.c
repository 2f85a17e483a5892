/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * onion-bench bulk transfer between two threads, one way (blocking) or both
 * ways at once (non-blocking, polled).  Every side runs on a core of its
 * own; a side that fails shuts its socket down so that its peer fails too
 * instead of waiting, and both still meet at every barrier.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "bench.h"

#define STALL_SECS 30.0

/* Bulk transfer. */

struct bulk_shared {
    const struct bench_bulk_cfg *cfg;
    struct bench_tls *tls;
    pthread_barrier_t bar;
};

struct bulk_side {
    struct bulk_shared *sh;
    int client;
    int fd;
    int ok;
    double t_start;
    double t_end;
    double cpu;
    struct bench_count cnt;
    unsigned long long allocs;
    unsigned long long onion_allocs;
    unsigned char *txbuf;
    unsigned char *rxbuf;
    EVP_MD_CTX *md_tx;
    EVP_MD_CTX *md_rx;
    uint64_t seed;
    unsigned char dig_tx[EVP_MAX_MD_SIZE];
    unsigned char dig_rx[EVP_MAX_MD_SIZE];
};

static int next_chunk(struct bulk_side *s, size_t n)
{
    if (!s->sh->cfg->verify)
        return 1;
    bench_fill(s->txbuf, n, &s->seed);
    return EVP_DigestUpdate(s->md_tx, s->txbuf, n);
}

static int got_data(struct bulk_side *s, size_t n)
{
    if (!s->sh->cfg->verify)
        return 1;
    return EVP_DigestUpdate(s->md_rx, s->rxbuf, n);
}

/* One way, blocking: the client sends, the server receives. */
static int pump_send(struct bulk_side *s, BIO *b)
{
    const struct bench_bulk_cfg *cfg = s->sh->cfg;
    size_t left = cfg->bytes, n;

    while (left > 0) {
        n = left < cfg->chunk ? left : cfg->chunk;
        if (!next_chunk(s, n) || !bench_write_all(b, s->txbuf, n)) {
            bench_errors("bulk write");
            return 0;
        }
        left -= n;
    }
    if (BIO_flush(b) <= 0) {
        bench_errors("bulk flush");
        return 0;
    }
    return 1;
}

static int pump_recv(struct bulk_side *s, BIO *b)
{
    const struct bench_bulk_cfg *cfg = s->sh->cfg;
    size_t got = 0;
    int k;

    while (got < cfg->bytes) {
        k = BIO_read(b, s->rxbuf, (int)cfg->chunk);
        if (k <= 0 || !got_data(s, (size_t)k)) {
            bench_errors(k == 0 ? "bulk read: unexpected EOF" : "bulk read");
            return 0;
        }
        got += (size_t)k;
    }
    return 1;
}

static void want_from(BIO *b, int *want_r, int *want_w)
{
    if (BIO_should_read(b))
        *want_r = 1;
    if (BIO_should_write(b))
        *want_w = 1;
    if (!BIO_should_read(b) && !BIO_should_write(b))
        *want_r = *want_w = 1;
}

/*
 * Both ways, non-blocking: each side sends |bytes| and receives |bytes| at
 * the same time in one thread, polling the socket for what the stack asks
 * for.  Data the stack still holds (BIO_wpending) is flushed before the
 * side stops.
 */
static int pump_both(struct bulk_side *s, BIO *b)
{
    const struct bench_bulk_cfg *cfg = s->sh->cfg;
    size_t sent = 0, got = 0, n = 0, off = 0;
    int have = 0, k, progress, want_r, want_w, r;
    double last = bench_now();
    struct pollfd pfd;

    while (sent < cfg->bytes || got < cfg->bytes || BIO_wpending(b) > 0) {
        progress = want_r = want_w = 0;
        if (sent < cfg->bytes) {
            if (!have) {
                n = cfg->bytes - sent < cfg->chunk ? cfg->bytes - sent
                                                   : cfg->chunk;
                if (!next_chunk(s, n))
                    goto err;
                have = 1;
                off = 0;
            }
            k = BIO_write(b, s->txbuf + off, (int)(n - off));
            if (k > 0) {
                progress = 1;
                off += (size_t)k;
                if (off == n) {
                    sent += n;
                    have = 0;
                }
            } else if (BIO_should_retry(b)) {
                want_from(b, &want_r, &want_w);
            } else {
                bench_errors("bulk write (both ways)");
                goto err;
            }
        }
        if (got < cfg->bytes) {
            k = BIO_read(b, s->rxbuf, (int)cfg->chunk);
            if (k > 0) {
                if (!got_data(s, (size_t)k))
                    goto err;
                got += (size_t)k;
                progress = 1;
            } else if (k < 0 && BIO_should_retry(b)) {
                want_from(b, &want_r, &want_w);
            } else {
                bench_errors(k == 0 ? "bulk read (both ways): unexpected EOF"
                                    : "bulk read (both ways)");
                goto err;
            }
        }
        if (sent >= cfg->bytes && BIO_wpending(b) > 0) {
            k = (int)BIO_flush(b);
            if (k > 0) {
                progress = 1;
            } else if (BIO_should_retry(b)) {
                want_from(b, &want_r, &want_w);
            } else {
                bench_errors("bulk flush (both ways)");
                goto err;
            }
        }
        if (progress) {
            last = bench_now();
            continue;
        }
        if (bench_now() - last > STALL_SECS) {
            bench_log("  error: both-ways transfer stalled (sent %zu, "
                      "received %zu of %zu)\n",
                      sent, got, cfg->bytes);
            goto err;
        }
        pfd.fd = s->fd;
        pfd.events = (short)((want_r ? POLLIN : 0) | (want_w ? POLLOUT : 0));
        pfd.revents = 0;
        r = poll(&pfd, 1, 1000);
        if (r < 0 && errno != EINTR)
            goto err;
    }
    return 1;
err:
    return 0;
}

static void *bulk_thread(void *arg)
{
    struct bulk_side *s = arg;
    const struct bench_bulk_cfg *cfg = s->sh->cfg;
    struct bench_tls *t = s->sh->tls;
    SSL_CTX *ctx =
        s->client ? t->client[cfg->suite][0] : t->server[cfg->suite][0];
    int tag = s->client ? BENCH_TAG_CLIENT : BENCH_TAG_SERVER;
    struct bench_stack st = { NULL, s->fd, 0 };
    struct bench_mem m0, m1;
    unsigned int dlen;
    int ok;

    bench_pin(s->client ? 0 : 1);
    bench_mem_set_tag(tag);
    s->seed = s->client ? 0x9E3779B97F4A7C15ULL : 0xD1B54A32D192ED03ULL;
    s->txbuf = malloc(cfg->chunk);
    s->rxbuf = malloc(cfg->chunk);
    ok = s->txbuf != NULL && s->rxbuf != NULL;
    if (ok && cfg->verify) {
        s->md_tx = EVP_MD_CTX_new();
        s->md_rx = EVP_MD_CTX_new();
        ok = s->md_tx != NULL && s->md_rx != NULL
            && EVP_DigestInit_ex(s->md_tx, EVP_sha256(), NULL)
            && EVP_DigestInit_ex(s->md_rx, EVP_sha256(), NULL);
    }
    if (ok && !cfg->verify) {
        bench_fill(s->txbuf, cfg->chunk, &s->seed);
    }
    ok = ok
        && bench_stack_new(&st, cfg->impl, cfg->depth, ctx, s->client, s->fd,
                           cfg->count ? &s->cnt : NULL);
    ok = ok && bench_stack_handshake(&st);
    if (ok && cfg->both)
        ok = bench_set_nonblock(s->fd, 1);
    if (!ok)
        shutdown(s->fd, SHUT_RDWR);
    pthread_barrier_wait(&s->sh->bar);

    bench_count_reset(&s->cnt);
    bench_mem_get(tag, &m0);
    s->cpu = bench_thread_cpu();
    s->t_start = bench_now();
    if (ok) {
        if (cfg->both)
            ok = pump_both(s, st.top);
        else if (s->client)
            ok = pump_send(s, st.top);
        else
            ok = pump_recv(s, st.top);
    }
    s->t_end = bench_now();
    s->cpu = bench_thread_cpu() - s->cpu;
    bench_mem_get(tag, &m1);
    s->allocs = m1.allocs - m0.allocs;
    s->onion_allocs = m1.onion_allocs - m0.onion_allocs;
    if (!ok)
        shutdown(s->fd, SHUT_RDWR);
    pthread_barrier_wait(&s->sh->bar);

    if (ok && cfg->verify) {
        ok = EVP_DigestFinal_ex(s->md_tx, s->dig_tx, &dlen)
            && EVP_DigestFinal_ex(s->md_rx, s->dig_rx, &dlen);
    }
    if (st.top != NULL)
        bench_stack_free(&st);
    else
        close(s->fd);
    EVP_MD_CTX_free(s->md_tx);
    EVP_MD_CTX_free(s->md_rx);
    free(s->txbuf);
    free(s->rxbuf);
    s->ok = ok;
    return NULL;
}

/* run_two runs |fn| on two threads (client, server) and waits for both. */
int bench_run_two(void *(*fn)(void *), void *client, void *server)
{
    pthread_t th[2];

    if (pthread_create(&th[0], NULL, fn, client) != 0)
        return 0;
    if (pthread_create(&th[1], NULL, fn, server) != 0) {
        /* The client thread fails on its own once its peer never comes. */
        pthread_join(th[0], NULL);
        return 0;
    }
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    return 1;
}

int bench_bulk(struct bench_tls *t, const struct bench_bulk_cfg *cfg,
               struct bench_bulk_out *out)
{
    struct bulk_shared sh;
    struct bulk_side sd[2];
    int fds[2], ok, i;
    double start, end;

    memset(out, 0, sizeof(*out));
    memset(sd, 0, sizeof(sd));
    if (!bench_xport_pair(cfg->xport, fds))
        return 0;
    sh.cfg = cfg;
    sh.tls = t;
    pthread_barrier_init(&sh.bar, NULL, 2);
    for (i = 0; i < 2; i++) {
        sd[i].sh = &sh;
        sd[i].client = i == 0;
        sd[i].fd = fds[i];
    }
    ok = bench_run_two(bulk_thread, &sd[0], &sd[1]);
    pthread_barrier_destroy(&sh.bar);
    if (!ok) {
        close(fds[0]);
        close(fds[1]);
        return 0;
    }
    if (!sd[0].ok || !sd[1].ok)
        return 0;
    if (cfg->verify
        && (memcmp(sd[0].dig_tx, sd[1].dig_rx, 32) != 0
            || (cfg->both && memcmp(sd[1].dig_tx, sd[0].dig_rx, 32) != 0))) {
        bench_log("  error: SHA-256 of the data received differs from "
                  "the data sent\n");
        return 0;
    }
    if (cfg->both) {
        start = sd[0].t_start < sd[1].t_start ? sd[0].t_start : sd[1].t_start;
        end = sd[0].t_end > sd[1].t_end ? sd[0].t_end : sd[1].t_end;
        out->secs = end - start;
        out->mbps = 2.0 * (double)cfg->bytes / out->secs / 1e6;
    } else {
        out->secs = sd[1].t_end - sd[0].t_start;
        out->mbps = (double)cfg->bytes / out->secs / 1e6;
    }
    out->cpu_send = sd[0].cpu;
    out->cpu_recv = sd[1].cpu;
    out->sent = sd[0].cnt;
    out->recv = sd[1].cnt;
    out->allocs = sd[0].allocs + sd[1].allocs;
    out->onion_allocs = sd[0].onion_allocs + sd[1].onion_allocs;
    return 1;
}
