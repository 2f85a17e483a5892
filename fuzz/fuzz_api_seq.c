/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * fuzz-api-seq: the input is a program of operations on a client onion
 * (push, pop, read, write, flush, handshake, pending and other queries,
 * flags, misuse, free and re-create, transport faults) against a
 * well-behaved in-process peer, an onion that answers STARTTLS frames with
 * a push, answers a close with a pop, and sends data when told.
 *
 * The client's stream is framed as in the fault-injection test: 'D' frames
 * of data, and 'S' frames that announce a push (the third byte names the
 * TLS configuration, so that the peer pushes a matching layer).  Checked
 * after every operation: the depth is what the successful pushes and the
 * popped events say, and a pop that returns 1 raised exactly one popped
 * event; what the peer received is a prefix of what the client's writes
 * were accepted with, and the other way round; and, when the connection
 * had no fault, no failure and no close in progress, after both sides
 * settle, nothing written was lost.  ASan and UBSan catch the rest (a use
 * after free after a free and re-create, for example).
 *
 * With ONION_FUZZ_GEN=DIR in the environment it writes a seed corpus into
 * DIR and exits.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "bio_onion.h"
#include "fuzz_common.h"
#include "tap.h"

#define AS_MAX_DEPTH 4
#define AS_STREAM (256 * 1024)
#define AS_BUF 16384
#define AS_SETTLE 400

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    OP_WRITE,
    OP_READ,
    OP_PUSH,
    OP_POP,
    OP_FLUSH,
    OP_HANDSHAKE,
    OP_QUERY,
    OP_PEER_WRITE,
    OP_PEER_POP,
    OP_PUMP,
    OP_FLAGS,
    OP_RECREATE,
    OP_RESET,
    OP_MISUSE,
    NOPS
};

typedef struct as_st {
    BIO *cwire, *pwire;  /* the two ends of the BIO pair */
    BIO *ctap;           /* on the client's end: can reset the link */
    BIO *client;         /* the onion under test */
    BIO *peer;           /* the peer's onion */
    unsigned char *cout; /* client bytes accepted by BIO_write */
    size_t cout_len;
    unsigned char *frame; /* the frame being written */
    size_t frame_len, frame_off;
    unsigned char *prx; /* what the peer received */
    size_t prx_len, parsed;
    unsigned char *ptx; /* what the peer wrote */
    size_t ptx_len, ptx_queued;
    unsigned char *crx; /* what the client received */
    size_t crx_len;
    int cdepth; /* the client's expected depth */
    int popped; /* popped events on the client */
    int peer_popping;
    int faulted;       /* the transport was reset */
    int broken;        /* a side failed: data may stop anywhere */
    int desync;        /* a push raced with the peer's data */
    int auto_pop_seen; /* auto-pop was on at some time: a close it began
                          may end in a later call */
    uint64_t gen;      /* payload generator */
    int max_depth;     /* deepest the client went (statistics) */
    size_t moved;      /* bytes delivered (statistics) */
    unsigned char buf[AS_BUF];
} AS;

static AS as;

static void on_event(BIO *b, int event, int layer, void *arg)
{
    AS *a = arg;

    (void)b;
    (void)layer;
    if (event == BIO_ONION_EV_POPPED)
        a->popped++;
}

static unsigned char next_byte(AS *a)
{
    a->gen = a->gen * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned char)(a->gen >> 56);
}

static void check_prefixes(AS *a)
{
    /*
     * Past a failure (a layer discarded on one side only, a STARTTLS that
     * raced with a close), the two sides no longer agree on the layers and
     * the streams are not comparable.
     */
    size_t pend = a->frame_len - a->frame_off, extra;

    if (a->broken)
        return;
    /*
     * A write that asks to be retried may already have committed its bytes
     * (the record is out, the flush is not): the frame being written
     * counts as sent.
     */
    FZ_CHECK(a->prx_len <= a->cout_len + pend,
             "the peer received %zu bytes, the client wrote %zu (+%zu "
             "pending)",
             a->prx_len, a->cout_len, pend);
    extra = a->prx_len > a->cout_len ? a->prx_len - a->cout_len : 0;
    FZ_CHECK(memcmp(a->prx, a->cout, a->prx_len - extra) == 0
                 && memcmp(a->prx + a->cout_len, a->frame + a->frame_off, extra)
                     == 0,
             "the peer received %zu bytes that are not a prefix of what "
             "the client wrote (%zu + %zu pending)",
             a->prx_len, a->cout_len, pend);
    /* The same for the peer: what it is still writing may be out. */
    if (!a->desync)
        FZ_CHECK(a->crx_len <= a->ptx_queued
                     && memcmp(a->crx, a->ptx, a->crx_len) == 0,
                 "the client received %zu bytes that are not a prefix of "
                 "the %zu the peer wrote (+%zu pending)",
                 a->crx_len, a->ptx_len, a->ptx_queued - a->ptx_len);
}

static void connect_pair(AS *a, unsigned char faults)
{
    BIO *cend = NULL, *pend = NULL;
    size_t size = (faults & 3) == 0 ? 0 : (size_t)64 << (2 * (faults & 3));

    FZ_CHECK(BIO_new_bio_pair(&cend, size, &pend, size) == 1, "bio pair");
    a->ctap = tap_new();
    a->client = BIO_new_onion();
    a->peer = BIO_new_onion();
    FZ_CHECK(a->ctap != NULL && a->client != NULL && a->peer != NULL, "new");
    BIO_push(a->ctap, cend);
    BIO_push(a->client, a->ctap);
    BIO_push(a->peer, pend);
    a->cwire = cend;
    a->pwire = pend;
    BIO_onion_set_callback(a->client, on_event, a);
    BIO_onion_set_flags(a->client, (faults & 4) ? BIO_ONION_AUTO_POP : 0);
    a->auto_pop_seen = (faults & 4) != 0;
    a->cout_len = a->prx_len = a->parsed = a->ptx_len = a->ptx_queued = 0;
    a->crx_len = 0;
    a->frame_len = a->frame_off = 0;
    a->cdepth = a->popped = 0;
    a->peer_popping = a->faulted = a->broken = a->desync = 0;
}

static void disconnect(AS *a)
{
    a->moved += a->prx_len + a->crx_len;
    BIO_free_all(a->client);
    BIO_free_all(a->peer);
    a->client = a->peer = a->ctap = a->cwire = a->pwire = NULL;
    ERR_clear_error();
}

/* The peer: reads, parses frames, pushes on STARTTLS, pops on a close. */
static void peer_parse(AS *a)
{
    SSL *ssl;
    size_t flen, left;

    while (a->parsed + 3 <= a->prx_len) {
        unsigned char *h = a->prx + a->parsed;

        if (h[0] == 'S') {
            a->parsed += 3;
            left = a->prx_len - a->parsed;
            a->prx_len = a->parsed;
            fz_rng_select(FZ_RNG_SERVER);
            ssl = SSL_new(fz_server_ctx(h[2]));
            FZ_CHECK(ssl != NULL, "SSL_new");
            SSL_set_accept_state(ssl);
            if (BIO_onion_push_ssl_with_data(a->peer, ssl, a->prx + a->parsed,
                                             left)
                != 1) {
                /*
                 * The peer's innermost layer is closing or failed: the
                 * STARTTLS raced with its close.  The streams part here.
                 */
                SSL_free(ssl);
                a->broken = 1;
                return;
            }
            continue;
        }
        if (a->broken)
            return; /* past a failure, the stream may be anything */
        FZ_CHECK(h[0] == 'D', "bad frame 0x%02x at %zu", h[0], a->parsed);
        flen = ((size_t)h[1] << 8) | h[2];
        if (a->parsed + 3 + flen > a->prx_len)
            break;
        a->parsed += 3 + flen;
    }
}

static int peer_read(AS *a)
{
    int ret;

    fz_rng_select(FZ_RNG_SERVER);
    ret = BIO_read(a->peer, a->buf, sizeof(a->buf));
    if (ret > 0) {
        FZ_CHECK(a->prx_len + (size_t)ret <= AS_STREAM, "peer stream full");
        memcpy(a->prx + a->prx_len, a->buf, (size_t)ret);
        a->prx_len += (size_t)ret;
        peer_parse(a);
        return 1;
    }
    if (ret == 0 && BIO_onion_get_depth(a->peer) > 0
        && BIO_onion_peer_closed(a->peer)) {
        a->peer_popping = 1;
        return 0;
    }
    if (!BIO_should_retry(a->peer) && BIO_onion_get_depth(a->peer) > 0)
        a->broken = 1;
    return 0;
}

/* A STARTTLS line has begun to arrive and is not complete yet. */
static int starttls_pending(AS *a)
{
    return a->parsed < a->prx_len && a->prx[a->parsed] == 'S';
}

static int peer_round(AS *a)
{
    int prog = 0, ret;

    fz_rng_select(FZ_RNG_SERVER);
    if (a->peer_popping) {
        ret = (int)BIO_onion_pop(a->peer);
        if (ret == 1
            || (!BIO_should_retry(a->peer)
                && BIO_onion_get_depth(a->peer) == 0)) {
            a->peer_popping = 0;
            prog = 1;
        } else if (!BIO_should_retry(a->peer)) {
            a->peer_popping = 0;
            a->broken = 1;
        } else if (BIO_get_retry_reason(a->peer) == BIO_ONION_RR_APP_DATA) {
            prog |= peer_read(a);
        }
    }
    /* Input first: a STARTTLS must be answered before anything is sent. */
    prog |= peer_read(a);
    if (a->ptx_queued > a->ptx_len && !starttls_pending(a)) {
        fz_rng_select(FZ_RNG_SERVER);
        ret = BIO_write(a->peer, a->ptx + a->ptx_len,
                        (int)(a->ptx_queued - a->ptx_len));
        if (ret > 0) {
            a->ptx_len += (size_t)ret;
            prog = 1;
        } else if (!BIO_should_retry(a->peer)) {
            a->ptx_queued = a->ptx_len;
            a->broken = 1;
        }
    }
    (void)BIO_flush(a->peer);
    ERR_clear_error();
    return prog;
}

/* The client's calls.  Each returns 1 when something moved. */

static int client_read(AS *a, size_t want)
{
    int before = a->popped, ret;

    if (want > sizeof(a->buf))
        want = sizeof(a->buf);
    fz_rng_select(FZ_RNG_CLIENT);
    ret = BIO_read(a->client, a->buf, (int)want);
    a->cdepth -= a->popped - before;
    if (ret > 0 && getenv("ONION_FUZZ_TRACE") != NULL)
        fprintf(stderr, "client read %d bytes at depth %d: %02x %02x %02x\n",
                ret, BIO_onion_get_depth(a->client), a->buf[0], a->buf[1],
                a->buf[2]);
    if (ret > 0) {
        FZ_CHECK((size_t)ret <= want, "read %d of %zu", ret, want);
        FZ_CHECK(a->crx_len + (size_t)ret <= AS_STREAM, "client stream full");
        memcpy(a->crx + a->crx_len, a->buf, (size_t)ret);
        a->crx_len += (size_t)ret;
        return 1;
    }
    if (ret == 0 && a->cdepth > 0)
        FZ_CHECK(BIO_onion_peer_closed(a->client) || a->faulted
                     || BIO_onion_get_error_layer(a->client)
                         != BIO_ONION_ERROR_NONE,
                 "read returned 0 at depth %d without close_notify", a->cdepth);
    if (ret <= 0 && !BIO_should_retry(a->client) && a->cdepth > 0
        && !BIO_onion_peer_closed(a->client)) {
        FZ_CHECK(fz_onion_error_take(), "read failed at depth %d, no error",
                 a->cdepth);
        a->broken = 1;
    }
    return a->popped != before;
}

static void client_push(AS *a, unsigned char cfg)
{
    int ret, before = a->popped;
    SSL *ssl = NULL;

    fz_rng_select(FZ_RNG_CLIENT);
    ret = BIO_onion_push_tls(a->client, fz_client_ctx(cfg), 1);
    a->cdepth -= a->popped - before;
    if (ret == 1) {
        a->cdepth++;
        FZ_CHECK(BIO_onion_get_ssl(a->client, -1, &ssl) == 1 && ssl != NULL,
                 "no innermost SSL after a push");
        return;
    }
    /* Documented refusals only: a closing or failed innermost layer. */
    FZ_CHECK(fz_onion_error_take(), "push failed without an error");
    FZ_CHECK(a->cdepth > 0, "push at depth 0 failed");
    a->broken = 1;
}

static int client_write(AS *a)
{
    int ret;

    if (a->frame_off >= a->frame_len)
        return 0;
    fz_rng_select(FZ_RNG_CLIENT);
    ret = BIO_write(a->client, a->frame + a->frame_off,
                    (int)(a->frame_len - a->frame_off));
    if (ret > 0) {
        FZ_CHECK((size_t)ret <= a->frame_len - a->frame_off, "wrote %d", ret);
        memcpy(a->cout + a->cout_len, a->frame + a->frame_off, (size_t)ret);
        a->cout_len += (size_t)ret;
        a->frame_off += (size_t)ret;
        /* STARTTLS: the next layer starts right after the line. */
        if (a->frame_off == a->frame_len && a->frame[0] == 'S')
            client_push(a, a->frame[2]);
        return 1;
    }
    if (!BIO_should_retry(a->client)) {
        /* The stack failed or the layer is closing: the frame is dropped. */
        if (getenv("ONION_FUZZ_TRACE") != NULL) {
            fprintf(stderr, "client write failed (%d) at depth %d:\n", ret,
                    a->cdepth);
            ERR_print_errors_fp(stderr);
        }
        a->frame_off = a->frame_len;
        if (a->cdepth > 0)
            a->broken = 1;
    }
    return 0;
}

static void queue_frame(AS *a, unsigned char type, size_t len,
                        unsigned char extra)
{
    size_t i;

    if (a->frame_off < a->frame_len || a->cout_len + 3 + len + 3 > AS_STREAM)
        return;
    a->frame[0] = type;
    a->frame[1] = (unsigned char)(len >> 8);
    a->frame[2] = type == 'S' ? extra : (unsigned char)len;
    for (i = 0; i < len; i++)
        a->frame[3 + i] = next_byte(a);
    a->frame_len = 3 + len;
    a->frame_off = 0;
}

/* Both sides run until nothing moves. */
static void settle(AS *a)
{
    int quiet = 0, rounds = 0, prog;

    while (quiet < 4 && rounds++ < AS_SETTLE) {
        prog = client_write(a);
        fz_rng_select(FZ_RNG_CLIENT);
        (void)BIO_flush(a->client);
        prog |= client_read(a, sizeof(a->buf));
        if (a->cdepth > 0 && BIO_onion_peer_closed(a->client)) {
            int before = a->popped;

            fz_rng_select(FZ_RNG_CLIENT);
            (void)BIO_onion_pop(a->client);
            a->cdepth -= a->popped - before;
        }
        prog |= peer_round(a);
        ERR_clear_error();
        check_prefixes(a);
        quiet = prog ? 0 : quiet + 1;
    }
}

/* Nothing lost: when the connection stayed healthy, all arrived. */
static void check_delivered(AS *a)
{
    if (a->faulted || a->broken || a->desync || a->peer_popping
        || a->frame_off < a->frame_len
        || a->cdepth != BIO_onion_get_depth(a->peer)
        || BIO_onion_peer_closed(a->client) || BIO_onion_peer_closed(a->peer)
        || BIO_onion_get_error_layer(a->client) != BIO_ONION_ERROR_NONE
        || BIO_onion_get_error_layer(a->peer) != BIO_ONION_ERROR_NONE)
        return;
    settle(a);
    if (a->broken || a->peer_popping || BIO_onion_peer_closed(a->client)
        || BIO_onion_peer_closed(a->peer) || a->ptx_queued > a->ptx_len
        || a->frame_off < a->frame_len)
        return;
    FZ_CHECK(a->prx_len == a->cout_len,
             "the peer received %zu of the %zu bytes the client wrote",
             a->prx_len, a->cout_len);
    FZ_CHECK(a->crx_len == a->ptx_len,
             "the client received %zu of the %zu bytes the peer wrote",
             a->crx_len, a->ptx_len);
}

static void op_push(AS *a, unsigned char cfg)
{
    int i;

    if (a->frame_off < a->frame_len || a->cdepth >= AS_MAX_DEPTH)
        return;
    /* STARTTLS: first take what the peer sent at this layer. */
    for (i = 0; i < 50 && a->crx_len < a->ptx_len; i++) {
        client_read(a, sizeof(a->buf));
        peer_round(a);
    }
    if (a->crx_len < a->ptx_len || a->ptx_queued > a->ptx_len)
        a->desync = 1;
    queue_frame(a, 'S', 0, (unsigned char)(cfg % FZ_NCFG));
    client_write(a);
}

static void op_pop(AS *a)
{
    int before = a->popped, depth = a->cdepth, ret;

    if (a->frame_off < a->frame_len)
        return;
    fz_rng_select(FZ_RNG_CLIENT);
    ret = (int)BIO_onion_pop(a->client);
    a->cdepth -= a->popped - before;
    if (ret == 1) {
        FZ_CHECK(a->popped - before == 1, "pop returned 1 with %d events",
                 a->popped - before);
        return;
    }
    if (BIO_should_retry(a->client)) {
        FZ_CHECK(a->popped == before, "a pop that must retry popped");
        if (BIO_get_retry_reason(a->client) == BIO_ONION_RR_APP_DATA)
            client_read(a, sizeof(a->buf));
        return;
    }
    FZ_CHECK(fz_onion_error_take(), "pop failed without an error");
    if (depth == 0)
        FZ_CHECK(a->popped == before, "pop at depth 0 popped");
    else
        a->broken = 1;
}

static void op_query(AS *a, unsigned char which)
{
    SSL *ssl = (SSL *)&ssl;
    int where;

    fz_rng_select(FZ_RNG_CLIENT);
    switch (which % 6) {
    case 0:
        FZ_CHECK(BIO_pending(a->client) >= 0, "pending < 0");
        break;
    case 1:
        (void)BIO_wpending(a->client);
        break;
    case 2:
        (void)BIO_eof(a->client);
        break;
    case 3:
        where = (int)(which >> 3) - 16;
        if (BIO_onion_get_ssl(a->client, where, &ssl) != 1)
            FZ_CHECK(ssl == NULL, "get_ssl out of range left a pointer");
        else
            FZ_CHECK(ssl != NULL, "get_ssl returned 1 and NULL");
        break;
    case 4:
        where = BIO_onion_get_error_layer(a->client);
        FZ_CHECK(where >= BIO_ONION_ERROR_NONE && where < AS_MAX_DEPTH,
                 "error layer %d", where);
        break;
    default:
        (void)BIO_ctrl(a->client, BIO_C_ONION_GET_RECORD_ROOM, 0, NULL);
        break;
    }
    ERR_clear_error();
}

static void op_misuse(AS *a, unsigned char which)
{
    int before = a->popped, depth = BIO_onion_get_depth(a->client);
    SSL *ssl;

    fz_rng_select(FZ_RNG_CLIENT);
    switch (which % 3) {
    case 0:
        FZ_CHECK(BIO_onion_push_ssl(a->client, NULL) <= 0, "push NULL");
        break;
    case 1:
        /* An SSL already in the stack cannot be pushed again. */
        if (BIO_onion_get_ssl(a->client, 0, &ssl) == 1)
            FZ_CHECK(BIO_onion_push_ssl(a->client, ssl) <= 0,
                     "pushed an SSL already in use");
        break;
    default:
        FZ_CHECK(BIO_onion_push_tls(a->client, NULL, 1) <= 0,
                 "pushed a NULL context");
        break;
    }
    FZ_CHECK(BIO_onion_get_depth(a->client) == depth && a->popped == before,
             "misuse changed the depth");
    ERR_clear_error();
}

static void run_op(AS *a, const uint8_t *p)
{
    int before = a->popped;
    unsigned int flags;
    size_t n;

    switch (p[0] % NOPS) {
    case OP_WRITE:
        queue_frame(a, 'D', (size_t)p[1] * 16 + 1, 0);
        client_write(a);
        break;
    case OP_READ:
        client_read(a, (size_t)p[1] * 64 + 1);
        break;
    case OP_PUSH:
        op_push(a, p[1]);
        break;
    case OP_POP:
        op_pop(a);
        break;
    case OP_FLUSH:
        fz_rng_select(FZ_RNG_CLIENT);
        (void)BIO_flush(a->client);
        a->cdepth -= a->popped - before;
        break;
    case OP_HANDSHAKE:
        fz_rng_select(FZ_RNG_CLIENT);
        if (BIO_do_handshake(a->client) <= 0 && !BIO_should_retry(a->client)
            && a->cdepth > 0)
            a->broken = 1;
        a->cdepth -= a->popped - before;
        break;
    case OP_QUERY:
        op_query(a, p[1]);
        break;
    case OP_PEER_WRITE:
        n = (size_t)p[1] * 8 + 1;
        if (a->ptx_queued + n <= AS_STREAM) {
            size_t i;

            for (i = 0; i < n; i++)
                a->ptx[a->ptx_queued + i] = next_byte(a);
            a->ptx_queued += n;
        }
        peer_round(a);
        break;
    case OP_PEER_POP:
        if (BIO_onion_get_depth(a->peer) > 0)
            a->peer_popping = 1;
        peer_round(a);
        break;
    case OP_PUMP:
        for (n = 0; n < (size_t)(p[1] % 16) + 1; n++)
            peer_round(a);
        break;
    case OP_FLAGS:
        flags = BIO_onion_get_flags(a->client) ^ BIO_ONION_AUTO_POP;
        BIO_onion_set_flags(a->client, flags);
        FZ_CHECK(BIO_onion_get_flags(a->client) == flags, "flags");
        a->auto_pop_seen |= (flags & BIO_ONION_AUTO_POP) != 0;
        break;
    case OP_RECREATE:
        check_delivered(a);
        disconnect(a);
        connect_pair(a, p[1]);
        break;
    case OP_RESET:
        tap_reset(a->ctap);
        a->faulted = 1;
        break;
    default:
        op_misuse(a, p[1]);
        break;
    }
    ERR_clear_error();
    check_prefixes(a);
    FZ_CHECK(BIO_onion_get_depth(a->client) == a->cdepth,
             "depth %d, expected %d from pushes and popped events",
             BIO_onion_get_depth(a->client), a->cdepth);
    fz_check_onion(a->client, AS_MAX_DEPTH);
    if (a->cdepth > a->max_depth)
        a->max_depth = a->cdepth;
    if (getenv("ONION_FUZZ_TRACE") != NULL)
        fprintf(stderr,
                "op %d(%d): depth %d/%d, client wrote %zu (peer got %zu), "
                "peer wrote %zu (client got %zu); broken %d faulted %d "
                "desync %d peer popping %d\n",
                p[0] % NOPS, p[1], a->cdepth, BIO_onion_get_depth(a->peer),
                a->cout_len, a->prx_len, a->ptx_len, a->crx_len, a->broken,
                a->faulted, a->desync, a->peer_popping);
    FZ_CHECK(a->auto_pop_seen || a->popped == before || p[0] % NOPS == OP_POP
                 || p[0] % NOPS == OP_RECREATE,
             "a layer was popped by operation %d without auto-pop",
             p[0] % NOPS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    AS *a = &as;
    size_t i;

    if (size < 1)
        return 0;
    fz_rng_reset();
    a->gen = 0x5EED;
    a->max_depth = 0;
    a->moved = 0;
    connect_pair(a, data[0]);
    for (i = 1; i + 2 <= size; i += 2)
        run_op(a, data + i);
    check_delivered(a);
    disconnect(a);
    if (getenv("ONION_FUZZ_DEBUG") != NULL)
        fprintf(stderr,
                "fuzz-api-seq: %zu operations, depth up to %d, %zu "
                "bytes delivered\n",
                (size - 1) / 2, a->max_depth, a->moved);
    return 0;
}

/* Corpus generation: programs that make sense. */

static void gen_prog(const char *dir, const char *name,
                     const unsigned char *prog, size_t len)
{
    FZ_CHECK(fz_write_file(dir, name, prog, len), "write %s", name);
}

static void generate(const char *dir)
{
    /* op, arg pairs after one byte of connection settings. */
    static const unsigned char push_data_pop[] = {
        0,   OP_PUSH,  0,  OP_PUMP,       15,  OP_HANDSHAKE, 0,  OP_PUMP,
        15,  OP_WRITE, 40, OP_PEER_WRITE, 100, OP_PUMP,      15, OP_READ,
        255, OP_POP,   0,  OP_PUMP,       15,  OP_POP,       0,  OP_PUMP,
        15,  OP_WRITE, 3,  OP_PUMP,       15,  OP_READ,      255
    };
    static const unsigned char nested[] = { 0, /* default BIO pair */
                                            OP_PUSH,
                                            0,
                                            OP_PUMP,
                                            15,
                                            OP_HANDSHAKE,
                                            0,
                                            OP_PUMP,
                                            15,
                                            OP_HANDSHAKE,
                                            0,
                                            OP_PUSH,
                                            2,
                                            OP_PUMP,
                                            15,
                                            OP_HANDSHAKE,
                                            0,
                                            OP_PUMP,
                                            15,
                                            OP_HANDSHAKE,
                                            0,
                                            OP_PUSH,
                                            1,
                                            OP_PUMP,
                                            15,
                                            OP_HANDSHAKE,
                                            0,
                                            OP_PUMP,
                                            15,
                                            OP_HANDSHAKE,
                                            0,
                                            OP_WRITE,
                                            200,
                                            OP_PUMP,
                                            15,
                                            OP_READ,
                                            20,
                                            OP_QUERY,
                                            0,
                                            OP_QUERY,
                                            3,
                                            OP_PEER_WRITE,
                                            255,
                                            OP_PUMP,
                                            15,
                                            OP_READ,
                                            255,
                                            OP_PEER_POP,
                                            0,
                                            OP_PUMP,
                                            15,
                                            OP_READ,
                                            1,
                                            OP_POP,
                                            0,
                                            OP_PUMP,
                                            15,
                                            OP_POP,
                                            0,
                                            OP_PUMP,
                                            15,
                                            OP_POP,
                                            0,
                                            OP_PUMP,
                                            15,
                                            OP_POP,
                                            0,
                                            OP_PUMP,
                                            15,
                                            OP_POP,
                                            0,
                                            OP_RECREATE,
                                            0,
                                            OP_PUSH,
                                            3,
                                            OP_PUMP,
                                            15,
                                            OP_WRITE,
                                            9,
                                            OP_PUMP,
                                            15 };
    static const unsigned char faults[] = {
        6,  OP_PUSH,     0,  OP_PUMP,   15, OP_HANDSHAKE, 0, OP_PUMP,
        15, OP_WRITE,    80, OP_RESET,  0,  OP_READ,      9, OP_WRITE,
        4,  OP_POP,      0,  OP_MISUSE, 0,  OP_MISUSE,    1, OP_MISUSE,
        2,  OP_RECREATE, 7,  OP_FLAGS,  0,  OP_PUSH,      1, OP_PUMP,
        15, OP_PEER_POP, 0,  OP_PUMP,   15, OP_READ,      3, OP_PUMP,
        15, OP_READ,     3
    };

    gen_prog(dir, "push-data-pop", push_data_pop, sizeof(push_data_pop));
    gen_prog(dir, "nested-3", nested, sizeof(nested));
    gen_prog(dir, "faults-misuse", faults, sizeof(faults));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *gen = getenv("ONION_FUZZ_GEN");

    (void)argc;
    (void)argv;
    fz_init();
    as.cout = malloc(AS_STREAM);
    as.frame = malloc(AS_STREAM);
    as.prx = malloc(AS_STREAM);
    as.ptx = malloc(AS_STREAM);
    as.crx = malloc(AS_STREAM);
    FZ_CHECK(as.cout != NULL && as.frame != NULL && as.prx != NULL
                 && as.ptx != NULL && as.crx != NULL,
             "allocation");
    if (gen != NULL) {
        generate(gen);
        exit(0);
    }
    return 0;
}
