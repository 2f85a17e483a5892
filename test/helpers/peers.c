/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "bio_onion.h"
#include "peers.h"

struct peers_shared_st {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned long arrived[2];
    int ended[2];
};

typedef struct peer_job_st {
    PEER *p;
    PEER_FN fn;
} PEER_JOB;

static void *peer_thread(void *arg)
{
    PEER_JOB *job = arg;
    PEER *p = job->p;

    p->result = job->fn(p);
    if (p->result && p->fail.failed)
        p->result = 0;
    if (!p->result && !p->fail.failed)
        tfail_set(&p->fail, __FILE__, __LINE__,
                  "peer function returned 0 without recording why");
    /*
     * On failure, unblock the other side at once; on success, tell it that
     * nothing more will come (it sees EOF if it still waits for data).
     */
    shutdown(p->fd, p->result ? SHUT_WR : SHUT_RDWR);
    pthread_mutex_lock(&p->shared->lock);
    p->shared->ended[p->idx] = 1;
    pthread_cond_broadcast(&p->shared->cond);
    pthread_mutex_unlock(&p->shared->lock);
    BIO_free_all(p->top);
    p->top = p->onion = p->sock = NULL;
    ERR_clear_error();
    return NULL;
}

static int setup_side(PEER *p, const char *name, int is_client, int fd,
                      void *arg, int raw)
{
    memset(p, 0, sizeof(*p));
    p->name = name;
    p->is_client = is_client;
    p->fd = fd;
    p->arg = arg;
    tfail_init(&p->fail, name);
    p->sock = BIO_new_socket(fd, BIO_NOCLOSE);
    if (p->sock == NULL)
        return tfail_set(&p->fail, __FILE__, __LINE__, "BIO_new_socket failed");
    p->top = p->sock;
    if (raw)
        return 1;
    p->onion = BIO_new_onion();
    if (p->onion == NULL)
        return tfail_set(&p->fail, __FILE__, __LINE__, "BIO_new_onion failed");
    p->top = BIO_push(p->onion, p->sock);
    return 1;
}

int peer_sync(PEER *p)
{
    PEERS_SHARED *sh = p->shared;
    int other = 1 - p->idx;
    unsigned long mine;
    struct timespec deadline;
    int ok = 1;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)test_timeout_seconds();
    pthread_mutex_lock(&sh->lock);
    mine = ++sh->arrived[p->idx];
    pthread_cond_broadcast(&sh->cond);
    while (sh->arrived[other] < mine && !sh->ended[other]) {
        if (pthread_cond_timedwait(&sh->cond, &sh->lock, &deadline) != 0) {
            ok = tfail_set(&p->fail, __FILE__, __LINE__,
                           "rendezvous %lu: timed out waiting for the peer",
                           mine);
            break;
        }
    }
    if (ok && sh->arrived[other] < mine)
        ok = tfail_set(&p->fail, __FILE__, __LINE__,
                       "rendezvous %lu: the peer ended before reaching it",
                       mine);
    pthread_mutex_unlock(&sh->lock);
    return ok;
}

int peers_run(PEER_FN cfn, void *carg, PEER_FN sfn, void *sarg, int flags,
              PEER *client, PEER *server)
{
    PEER_JOB jobs[2] = { { client, cfn }, { server, sfn } };
    PEERS_SHARED shared;
    pthread_t th[2];
    int started[2] = { 0, 0 };
    int sv[2] = { -1, -1 };
    struct timeval tv;
    int i, ok = 0;

    test_ignore_sigpipe();
    memset(client, 0, sizeof(*client));
    memset(server, 0, sizeof(*server));
    tfail_init(&client->fail, "client");
    tfail_init(&server->fail, "server");
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        tfail_set(&client->fail, __FILE__, __LINE__, "socketpair failed");
        return 0;
    }
    memset(&shared, 0, sizeof(shared));
    pthread_mutex_init(&shared.lock, NULL);
    pthread_cond_init(&shared.cond, NULL);
    tv.tv_sec = (time_t)test_timeout_seconds();
    tv.tv_usec = 0;
    for (i = 0; i < 2; i++) {
        setsockopt(sv[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(sv[i], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    if (!setup_side(client, "client", 1, sv[0], carg,
                    (flags & PEERS_CLIENT_RAW) != 0)
        || !setup_side(server, "server", 0, sv[1], sarg,
                       (flags & PEERS_SERVER_RAW) != 0))
        goto end;
    client->shared = server->shared = &shared;
    client->idx = 0;
    server->idx = 1;
    for (i = 0; i < 2; i++) {
        if (pthread_create(&th[i], NULL, peer_thread, &jobs[i]) != 0) {
            tfail_set(&jobs[i].p->fail, __FILE__, __LINE__,
                      "pthread_create failed");
            shutdown(sv[0], SHUT_RDWR);
            shutdown(sv[1], SHUT_RDWR);
            break;
        }
        started[i] = 1;
    }
    for (i = 0; i < 2; i++)
        if (started[i])
            pthread_join(th[i], NULL);
    ok = started[0] && started[1] && client->result && server->result;
end:
    for (i = 0; i < 2; i++) {
        if (!started[i]) {
            BIO_free_all(jobs[i].p->top);
            jobs[i].p->top = jobs[i].p->onion = jobs[i].p->sock = NULL;
        }
    }
    close(sv[0]);
    close(sv[1]);
    pthread_cond_destroy(&shared.cond);
    pthread_mutex_destroy(&shared.lock);
    client->shared = server->shared = NULL;
    return ok;
}

char *peers_report(const PEER *client, const PEER *server, char *buf,
                   size_t len)
{
    const PEER *first = client, *second = server;

    if (len == 0)
        return buf;
    buf[0] = '\0';
    if (server->fail.failed
        && (!client->fail.failed || server->fail.seq < client->fail.seq)) {
        first = server;
        second = client;
    }
    if (first->fail.failed)
        snprintf(buf, len, "first failure: %s%s%s", first->fail.msg,
                 second->fail.failed ? "\nthen: " : "",
                 second->fail.failed ? second->fail.msg : "");
    return buf;
}

void peer_io_state(BIO *b, int ret, char *buf, size_t len)
{
    snprintf(buf, len,
             "returned %d, retry %d (read %d, write %d, reason %d), depth %d, "
             "error layer %d, peer closed %d",
             ret, BIO_should_retry(b) ? 1 : 0, BIO_should_read(b) ? 1 : 0,
             BIO_should_write(b) ? 1 : 0, BIO_get_retry_reason(b),
             BIO_onion_get_depth(b), BIO_onion_get_error_layer(b),
             BIO_onion_peer_closed(b));
}

int peer_write_all(PEER *p, BIO *b, const void *buf, size_t len, size_t chunk)
{
    const unsigned char *ptr = buf;
    size_t off = 0;
    char st[256];

    while (off < len) {
        size_t n = len - off;
        int r;

        if (chunk != 0 && n > chunk)
            n = chunk;
        if (n > (size_t)INT_MAX / 2)
            n = (size_t)INT_MAX / 2;
        r = BIO_write(b, ptr + off, (int)n);
        if (r <= 0) {
            peer_io_state(b, r, st, sizeof(st));
            return tfail_set(&p->fail, __FILE__, __LINE__,
                             "BIO_write of %zu bytes at offset %zu of %zu: %s",
                             n, off, len, st);
        }
        off += (size_t)r;
    }
    return 1;
}

int peer_read_exact(PEER *p, BIO *b, void *buf, size_t len, size_t chunk)
{
    unsigned char *ptr = buf;
    size_t off = 0;
    char st[256];

    while (off < len) {
        size_t n = len - off;
        int r;

        if (chunk != 0 && n > chunk)
            n = chunk;
        if (n > (size_t)INT_MAX / 2)
            n = (size_t)INT_MAX / 2;
        r = BIO_read(b, ptr + off, (int)n);
        if (r <= 0) {
            peer_io_state(b, r, st, sizeof(st));
            return tfail_set(&p->fail, __FILE__, __LINE__,
                             "BIO_read at offset %zu of %zu: %s%s", off, len,
                             st, r == 0 ? " (end of stream)" : "");
        }
        off += (size_t)r;
    }
    return 1;
}

int peer_flush(PEER *p, BIO *b)
{
    char st[256];
    int r = BIO_flush(b);

    if (r <= 0) {
        peer_io_state(b, r, st, sizeof(st));
        return tfail_set(&p->fail, __FILE__, __LINE__, "BIO_flush: %s", st);
    }
    return 1;
}

int peer_send(PEER *p, BIO *b, const PAYLOAD *pl, size_t chunk)
{
    return peer_write_all(p, b, pl->data, pl->len, chunk);
}

int peer_recv(PEER *p, BIO *b, const PAYLOAD *pl, size_t chunk)
{
    unsigned char *got = OPENSSL_malloc(pl->len > 0 ? pl->len : 1);
    char why[512];
    int ok = 0;

    if (got == NULL)
        return tfail_set(&p->fail, __FILE__, __LINE__, "out of memory");
    if (!peer_read_exact(p, b, got, pl->len, chunk))
        goto end;
    if (!payload_check(pl, got, pl->len, why, sizeof(why))) {
        tfail_set(&p->fail, __FILE__, __LINE__, "%s", why);
        goto end;
    }
    ok = 1;
end:
    OPENSSL_free(got);
    return ok;
}

int peer_push(PEER *p, BIO *b, SSL_CTX *ctx, int client)
{
    int depth = BIO_onion_get_depth(b);
    int r = BIO_onion_push_tls(b, ctx, client);
    char st[256];

    if (r != 1) {
        peer_io_state(b, r, st, sizeof(st));
        return tfail_set(&p->fail, __FILE__, __LINE__,
                         "BIO_onion_push_tls at depth %d: %s", depth, st);
    }
    if (BIO_onion_get_depth(b) != depth + 1)
        return tfail_set(&p->fail, __FILE__, __LINE__,
                         "depth %d after a push at depth %d",
                         BIO_onion_get_depth(b), depth);
    return 1;
}

int peer_handshake(PEER *p, BIO *b)
{
    char st[256];
    int r = BIO_do_handshake(b);

    if (r != 1) {
        peer_io_state(b, r, st, sizeof(st));
        return tfail_set(&p->fail, __FILE__, __LINE__, "BIO_do_handshake: %s",
                         st);
    }
    return 1;
}

int peer_push_handshake(PEER *p, BIO *b, SSL_CTX *ctx, int client)
{
    return peer_push(p, b, ctx, client) && peer_handshake(p, b);
}

int peer_pop(PEER *p, BIO *b)
{
    int depth = BIO_onion_get_depth(b);
    int r = BIO_onion_pop(b);
    char st[256];

    if (r != 1) {
        peer_io_state(b, r, st, sizeof(st));
        return tfail_set(&p->fail, __FILE__, __LINE__,
                         "BIO_onion_pop at depth %d: %s%s", depth, st,
                         BIO_get_retry_reason(b) == BIO_ONION_RR_APP_DATA
                             ? " (peer still sends application data)"
                             : "");
    }
    if (BIO_onion_get_depth(b) != depth - 1)
        return tfail_set(&p->fail, __FILE__, __LINE__,
                         "depth %d after a pop at depth %d",
                         BIO_onion_get_depth(b), depth);
    return 1;
}

int peer_expect_closed(PEER *p, BIO *b)
{
    unsigned char buf[64];
    char st[256];
    int r = BIO_read(b, buf, sizeof(buf));

    if (r != 0 || BIO_onion_peer_closed(b) != 1) {
        peer_io_state(b, r, st, sizeof(st));
        return tfail_set(&p->fail, __FILE__, __LINE__,
                         "expected the peer's close_notify (read 0, peer "
                         "closed 1): %s",
                         st);
    }
    return 1;
}
