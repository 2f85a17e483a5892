/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "bio_onion.h"
#include "pump.h"

#define PUMP_BUF 20000

static const char *op_name(PUMP_OP_TYPE t)
{
    switch (t) {
    case PUMP_PUSH:
        return "push";
    case PUMP_HANDSHAKE:
        return "handshake";
    case PUMP_WRITE:
        return "write";
    case PUMP_READ:
        return "read";
    case PUMP_XFER:
        return "xfer";
    case PUMP_FLUSH:
        return "flush";
    case PUMP_POP:
        return "pop";
    case PUMP_READ_CLOSED:
        return "read-closed";
    case PUMP_DEPTH:
        return "depth";
    case PUMP_CALL:
        return "call";
    case PUMP_END:
        return "end";
    }
    return "?";
}

/* Describes where |s| is and the state of its BIO after a call. */
static void side_state(const PUMP_SIDE *s, int ret, char *buf, size_t len)
{
    const PUMP_OP *op = s->pc < s->nops ? &s->ops[s->pc] : NULL;

    snprintf(buf, len,
             "%s at op %zu (%s), written %zu/%zu, read %zu/%zu; last call "
             "returned %d, retry %d (read %d, write %d, reason %d), depth %d, "
             "error layer %d, peer closed %d; %lu calls, %lu retries",
             s->name, s->pc, op != NULL ? op_name(op->type) : "done", s->woff,
             op != NULL && op->out != NULL ? op->out->len : 0, s->roff,
             op != NULL && op->in != NULL ? op->in->len : 0, ret,
             BIO_should_retry(s->bio) ? 1 : 0, BIO_should_read(s->bio) ? 1 : 0,
             BIO_should_write(s->bio) ? 1 : 0, BIO_get_retry_reason(s->bio),
             BIO_onion_get_depth(s->bio), BIO_onion_get_error_layer(s->bio),
             BIO_onion_peer_closed(s->bio), s->calls, s->retries);
}

#define SIDE_FAIL(s, ret, ...)                                                 \
    side_fail((s), (ret), __FILE__, __LINE__, __VA_ARGS__)

static int side_fail(PUMP_SIDE *s, int ret, const char *file, int line,
                     const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int side_fail(PUMP_SIDE *s, int ret, const char *file, int line,
                     const char *fmt, ...)
{
    char what[512], st[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    side_state(s, ret, st, sizeof(st));
    tfail_set(&s->fail, file, line, "%s [%s]", what, st);
    return -1;
}

int pump_side_init(PUMP_SIDE *s, const char *name, BIO *bio, BIO *transport,
                   const PUMP_OP *ops, size_t nops, uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    s->name = name;
    s->bio = bio;
    s->transport = transport;
    s->ops = ops;
    s->nops = nops;
    s->rng = seed;
    tfail_init(&s->fail, name);
    s->buf = malloc(PUMP_BUF);
    if (s->buf == NULL || !sha256_stream_init(&s->sha)) {
        pump_side_cleanup(s);
        return 0;
    }
    s->done = nops == 0;
    return 1;
}

void pump_side_cleanup(PUMP_SIDE *s)
{
    free(s->buf);
    s->buf = NULL;
    sha256_stream_cleanup(&s->sha);
}

static size_t pick_chunk(PUMP_SIDE *s, size_t chunk, size_t left)
{
    size_t n;

    if (chunk == PUMP_CHUNK_DEFAULT)
        n = 16384;
    else if (chunk == PUMP_CHUNK_RANDOM)
        n = test_rand_below(&s->rng, 2) == 0
            ? 1 + (size_t)test_rand_below(&s->rng, 64)
            : 1 + (size_t)test_rand_below(&s->rng, 16384);
    else
        n = chunk;
    if (n > PUMP_BUF)
        n = PUMP_BUF;
    return n < left ? n : left;
}

static int advance(PUMP_SIDE *s)
{
    s->pc++;
    s->woff = s->roff = s->wpend = 0;
    s->started = s->draining = 0;
    sha256_stream_cleanup(&s->sha);
    if (!sha256_stream_init(&s->sha))
        return SIDE_FAIL(s, 0, "sha256_stream_init failed");
    if (s->pc >= s->nops || s->ops[s->pc].type == PUMP_END)
        s->done = 1;
    return 1;
}

/* One BIO_write of the pending or a new chunk of |out|. */
static int do_write(PUMP_SIDE *s, const PAYLOAD *out, size_t chunk)
{
    size_t n =
        s->wpend != 0 ? s->wpend : pick_chunk(s, chunk, out->len - s->woff);
    int r;

    s->calls++;
    r = BIO_write(s->bio, out->data + s->woff, (int)n);
    if (r > 0) {
        if ((size_t)r > n)
            return SIDE_FAIL(s, r, "BIO_write of %zu bytes returned %d", n, r);
        s->woff += (size_t)r;
        s->wpend = 0;
        return 1;
    }
    if (BIO_should_retry(s->bio)) {
        /* OpenSSL wants a retried write repeated with the same length. */
        s->wpend = n;
        s->retries++;
        return 0;
    }
    return SIDE_FAIL(s, r, "BIO_write of %zu bytes failed", n);
}

/* Checks |r| bytes in s->buf against |in| at s->roff, then counts them. */
static int take_bytes(PUMP_SIDE *s, const PAYLOAD *in, int r)
{
    size_t i;

    if (in == NULL || s->roff + (size_t)r > in->len)
        return SIDE_FAIL(s, r, "%d unexpected bytes of data", r);
    if (memcmp(s->buf, in->data + s->roff, (size_t)r) != 0) {
        for (i = 0; s->buf[i] == in->data[s->roff + i]; i++)
            continue;
        return SIDE_FAIL(s, r, "data differs at offset %zu", s->roff + i);
    }
    if (!sha256_stream_update(&s->sha, s->buf, (size_t)r))
        return SIDE_FAIL(s, r, "sha256_stream_update failed");
    s->roff += (size_t)r;
    return 1;
}

/* Checks the SHA-256 of everything read for |in|. */
static int check_digest(PUMP_SIDE *s, const PAYLOAD *in)
{
    unsigned char d[SHA256_LEN];
    char he[SHA256_HEX_LEN], hg[SHA256_HEX_LEN];

    if (s->roff != in->len)
        return SIDE_FAIL(s, 0, "read %zu of %zu bytes", s->roff, in->len);
    if (!sha256_stream_final(&s->sha, d))
        return SIDE_FAIL(s, 0, "sha256_stream_final failed");
    if (memcmp(d, in->sha, SHA256_LEN) != 0) {
        sha256_hex(in->sha, he);
        sha256_hex(d, hg);
        return SIDE_FAIL(s, 0, "SHA-256 %s, expected %s", hg, he);
    }
    return 1;
}

/* One BIO_read of up to the rest of |in|. */
static int do_read(PUMP_SIDE *s, const PAYLOAD *in, size_t chunk)
{
    size_t n = pick_chunk(s, chunk, in->len - s->roff);
    int r;

    s->calls++;
    r = BIO_read(s->bio, s->buf, (int)n);
    if (r > 0) {
        if (take_bytes(s, in, r) < 0)
            return -1;
        if (s->roff == in->len && check_digest(s, in) < 0)
            return -1;
        return 1;
    }
    if (r < 0 && BIO_should_retry(s->bio)) {
        s->retries++;
        return 0;
    }
    return SIDE_FAIL(s, r, "BIO_read failed%s",
                     r == 0 ? " (end of stream)" : "");
}

static int step_pop(PUMP_SIDE *s, const PUMP_OP *op)
{
    int r;

    if (!s->started) {
        s->started = 1;
        s->depth0 = BIO_onion_get_depth(s->bio);
    }
    if (s->draining) {
        size_t left = op->in != NULL ? op->in->len - s->roff : 0;

        s->calls++;
        r = BIO_read(s->bio, s->buf,
                     (int)pick_chunk(s, op->chunk, left > 0 ? left : 64));
        if (r > 0)
            return take_bytes(s, op->in, r);
        if (r == 0) {
            s->draining = 0;
            return 1;
        }
        if (BIO_should_retry(s->bio)) {
            s->retries++;
            return 0;
        }
        return SIDE_FAIL(s, r, "BIO_read while draining a closing layer");
    }
    s->calls++;
    r = BIO_onion_pop(s->bio);
    if (r == 1) {
        if (BIO_onion_get_depth(s->bio) != s->depth0 - 1)
            return SIDE_FAIL(s, r, "pop from depth %d left depth %d", s->depth0,
                             BIO_onion_get_depth(s->bio));
        if (op->in != NULL && check_digest(s, op->in) < 0)
            return -1;
        return advance(s);
    }
    if (!BIO_should_retry(s->bio))
        return SIDE_FAIL(s, r, "BIO_onion_pop failed");
    s->retries++;
    if (BIO_should_read(s->bio)
        && BIO_get_retry_reason(s->bio) == BIO_ONION_RR_APP_DATA) {
        if (op->in == NULL)
            return SIDE_FAIL(s, r, "pop: the peer still sends data");
        s->draining = 1;
    }
    return 0;
}

/* Runs one call of the current operation: -1 failed, 0 no progress, 1 progress. */
static int side_step(PUMP_SIDE *s)
{
    const PUMP_OP *op;
    int r, r2;

    if (s->done)
        return 0;
    op = &s->ops[s->pc];
    switch (op->type) {
    case PUMP_PUSH:
        s->calls++;
        r = BIO_onion_get_depth(s->bio);
        if (BIO_onion_push_tls(s->bio, op->ctx, op->client) != 1)
            return SIDE_FAIL(s, 0, "BIO_onion_push_tls failed");
        if (BIO_onion_get_depth(s->bio) != r + 1)
            return SIDE_FAIL(s, 0, "push at depth %d gave depth %d", r,
                             BIO_onion_get_depth(s->bio));
        return advance(s);
    case PUMP_HANDSHAKE:
        s->calls++;
        r = BIO_do_handshake(s->bio);
        if (r == 1)
            return advance(s);
        if (BIO_should_retry(s->bio)) {
            s->retries++;
            return 0;
        }
        return SIDE_FAIL(s, r, "BIO_do_handshake failed");
    case PUMP_FLUSH:
        s->calls++;
        r = BIO_flush(s->bio);
        if (r == 1)
            return advance(s);
        if (BIO_should_retry(s->bio)) {
            s->retries++;
            return 0;
        }
        return SIDE_FAIL(s, r, "BIO_flush failed");
    case PUMP_WRITE:
        if (s->woff < op->out->len
            && (r = do_write(s, op->out, op->chunk)) <= 0)
            return r;
        return s->woff == op->out->len ? advance(s) : 1;
    case PUMP_READ:
        if (s->roff < op->in->len && (r = do_read(s, op->in, op->chunk)) <= 0)
            return r;
        return s->roff == op->in->len ? advance(s) : 1;
    case PUMP_XFER:
        r = r2 = 0;
        if (s->woff < op->out->len && (r = do_write(s, op->out, op->chunk)) < 0)
            return -1;
        if (s->roff < op->in->len && (r2 = do_read(s, op->in, op->chunk)) < 0)
            return -1;
        if (s->woff == op->out->len && s->roff == op->in->len)
            return advance(s);
        return r > 0 || r2 > 0;
    case PUMP_POP:
        return step_pop(s, op);
    case PUMP_READ_CLOSED:
        s->calls++;
        r = BIO_read(s->bio, s->buf, 64);
        if (r == 0) {
            if (BIO_onion_peer_closed(s->bio) != 1)
                return SIDE_FAIL(s, r,
                                 "read 0 but BIO_onion_peer_closed is "
                                 "not 1");
            return advance(s);
        }
        if (r > 0)
            return SIDE_FAIL(s, r,
                             "%d bytes of data where the peer's "
                             "close_notify was expected",
                             r);
        if (BIO_should_retry(s->bio)) {
            s->retries++;
            return 0;
        }
        return SIDE_FAIL(s, r,
                         "BIO_read failed where the peer's "
                         "close_notify was expected");
    case PUMP_DEPTH:
        if (BIO_onion_get_depth(s->bio) != op->depth)
            return SIDE_FAIL(s, 0, "depth %d, expected %d",
                             BIO_onion_get_depth(s->bio), op->depth);
        return advance(s);
    case PUMP_CALL:
        s->calls++;
        r = op->call(s, op->arg);
        if (r > 0)
            return advance(s);
        if (r == 0)
            return 0;
        if (!s->fail.failed)
            SIDE_FAIL(s, r, "call operation failed");
        return -1;
    case PUMP_END:
        s->done = 1;
        return 0;
    }
    return SIDE_FAIL(s, 0, "unknown operation %d", (int)op->type);
}

static uint64_t moved(const PUMP_SIDE *s)
{
    if (s->transport == NULL)
        return 0;
    return BIO_number_read(s->transport) + BIO_number_written(s->transport);
}

int pump_run(PUMP_SIDE *a, PUMP_SIDE *b, unsigned long max_idle,
             unsigned long max_rounds, TFAIL *f)
{
    unsigned long round, idle = 0;
    char sa[512], sb[512];

    if (max_idle == 0)
        max_idle = 2000;
    if (max_rounds == 0)
        max_rounds = 20000000UL;
    for (round = 0;; round++) {
        uint64_t before = moved(a) + moved(b);
        int ra, rb;

        ra = side_step(a);
        if (ra < 0)
            return tfail_set(f, __FILE__, __LINE__, "%s failed in round %lu",
                             a->name, round);
        rb = side_step(b);
        if (rb < 0)
            return tfail_set(f, __FILE__, __LINE__, "%s failed in round %lu",
                             b->name, round);
        if (a->done && b->done)
            return 1;
        if (ra > 0 || rb > 0 || moved(a) + moved(b) != before)
            idle = 0;
        else
            idle++;
        if (idle >= max_idle || round >= max_rounds) {
            side_state(a, 0, sa, sizeof(sa));
            side_state(b, 0, sb, sizeof(sb));
            return tfail_set(f, __FILE__, __LINE__,
                             "%s after %lu rounds (%lu without progress): "
                             "%s; %s",
                             idle >= max_idle ? "deadlock" : "no end", round,
                             idle, sa, sb);
        }
    }
}

char *pump_report(const TFAIL *f, const PUMP_SIDE *a, const PUMP_SIDE *b,
                  char *buf, size_t len)
{
    const TFAIL *order[3] = { &a->fail, &b->fail, f };
    size_t i, j, used = 0;

    if (len == 0)
        return buf;
    buf[0] = '\0';
    for (i = 0; i < 3; i++)
        for (j = i + 1; j < 3; j++)
            if (order[j]->failed
                && (!order[i]->failed || order[j]->seq < order[i]->seq)) {
                const TFAIL *t = order[i];

                order[i] = order[j];
                order[j] = t;
            }
    for (i = 0; i < 3 && used + 1 < len; i++) {
        int k;

        if (!order[i]->failed)
            continue;
        k = snprintf(buf + used, len - used, "%s%s", used ? "\nthen: " : "",
                     order[i]->msg);
        if (k < 0)
            break;
        used += (size_t)k;
    }
    return buf;
}

int pump_pair_new(BIO **a, BIO **b, size_t size)
{
    *a = *b = NULL;
    return BIO_new_bio_pair(a, size, b, size) == 1;
}

int pump_socketpair_new(BIO **a, BIO **b)
{
    int sv[2], i;

    *a = *b = NULL;
    test_ignore_sigpipe();
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return 0;
    for (i = 0; i < 2; i++) {
        int fl = fcntl(sv[i], F_GETFL);

        if (fl < 0 || fcntl(sv[i], F_SETFL, fl | O_NONBLOCK) < 0)
            goto err;
    }
    *a = BIO_new_socket(sv[0], BIO_CLOSE);
    if (*a == NULL)
        goto err;
    sv[0] = -1;
    *b = BIO_new_socket(sv[1], BIO_CLOSE);
    if (*b == NULL)
        goto err;
    return 1;
err:
    BIO_free(*a);
    *a = NULL;
    if (sv[0] >= 0)
        close(sv[0]);
    close(sv[1]);
    return 0;
}
