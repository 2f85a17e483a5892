/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * fuzz-peer-bytes: a server-side onion of depth 1 to 3 fed arbitrary bytes
 * as its peer's stream.
 *
 * Input: two header bytes, then the peer's bytes.
 *   byte 0: bits 0-1 depth - 1 (3 counts as 1); bit 2 "inner" mode;
 *           bits 3-4 TLS configuration of layer 0 (layer i uses the next
 *           one); bit 5 BIO_ONION_AUTO_POP; bit 6: in inner mode, end with
 *           a clean close of the layer below instead of a transport EOF.
 *   byte 1: bytes fed per round (0: all at once).
 * Raw mode: the bytes are the transport stream under layer 0.  Inner mode:
 * a real client onion first sets up layers 0 .. depth-2 with the server,
 * then the bytes are its application data: the stream under the server's
 * innermost layer, behind healthy outer layers.
 *
 * The server drives its handshakes, reads and echoes what it reads, pops a
 * layer its peer closed and discards a layer that failed, until nothing
 * moves; then the transport ends and it must notice.  Checked: depth and
 * error layer always in range; a layer never ends as a clean end of file
 * without close_notify; a failure raises an error of the bio_onion
 * library; BIO_pending never promises a read that then wants to retry.
 *
 * With ONION_FUZZ_GEN=DIR in the environment it writes a seed corpus
 * (recorded real clients, every depth and mode) into DIR and exits.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "bio_onion.h"
#include "fuzz_common.h"
#include "tap.h"

#define PB_MAX_DEPTH 3
#define PB_BUF 16384
#define PB_ROUNDS 20000

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct pb_st {
    BIO *wire;   /* the peer's end of the BIO pair */
    BIO *server; /* the onion under test, on the other end */
    BIO *client; /* inner mode: the real client's onion on |wire| */
    BIO *feed;   /* where the input goes: |wire| or |client| */
    int depth;   /* layers the server was given */
    int hs_done; /* handshake-done events of the server */
    int popped;  /* popped events of the server */
    size_t echoed;
    unsigned char echo[PB_BUF];
    size_t echo_len;
    unsigned char buf[PB_BUF];
} PB;

static void on_event(BIO *b, int event, int layer, void *arg)
{
    PB *pb = arg;

    (void)b;
    (void)layer;
    if (event == BIO_ONION_EV_HANDSHAKE_DONE)
        pb->hs_done++;
    else if (event == BIO_ONION_EV_POPPED)
        pb->popped++;
}

static int cfg_of(unsigned char b0, int layer)
{
    return ((b0 >> 3) & 3) + layer;
}

static void server_push(PB *pb, unsigned char b0, int layer)
{
    SSL *ssl = SSL_new(fz_server_ctx(cfg_of(b0, layer)));

    FZ_CHECK(ssl != NULL, "SSL_new");
    SSL_set_accept_state(ssl);
    FZ_CHECK(BIO_onion_push_ssl(pb->server, ssl) == 1, "server push %d", layer);
    pb->depth++;
}

/* The server pops its innermost layer when its peer closed it. */
static int server_pop(PB *pb)
{
    BIO *s = pb->server;
    int depth = BIO_onion_get_depth(s);
    int ret = (int)BIO_onion_pop(s);

    if (ret == 1) {
        FZ_CHECK(BIO_onion_get_depth(s) == depth - 1,
                 "pop returned 1, depth %d -> %d", depth,
                 BIO_onion_get_depth(s));
        return 1;
    }
    if (BIO_should_retry(s))
        return 0;
    FZ_CHECK(fz_onion_error_take(), "pop failed (%d) without an error", ret);
    return BIO_onion_get_depth(s) != depth;
}

/* One round of the server.  Returns 1 when something happened. */
static int server_round(PB *pb)
{
    BIO *s = pb->server;
    int depth = BIO_onion_get_depth(s);
    int prog = 0, ret, pending;

    fz_rng_select(FZ_RNG_SERVER);
    if (depth > 0 && BIO_onion_get_error_layer(s) == BIO_ONION_ERROR_NONE
        && !BIO_onion_peer_closed(s)) {
        ret = (int)BIO_do_handshake(s);
        if (ret <= 0 && !BIO_should_retry(s))
            FZ_CHECK(fz_onion_error_take(),
                     "handshake failed (%d) at depth %d without an error", ret,
                     depth);
    }
    if (pb->echo_len > 0) {
        ret = BIO_write(s, pb->echo, (int)pb->echo_len);
        if (ret > 0) {
            FZ_CHECK((size_t)ret <= pb->echo_len, "wrote %d of %zu", ret,
                     pb->echo_len);
            memmove(pb->echo, pb->echo + ret, pb->echo_len - (size_t)ret);
            pb->echoed += (size_t)ret;
            pb->echo_len -= (size_t)ret;
            prog = 1;
        } else if (!BIO_should_retry(s)) {
            pb->echo_len = 0;
            (void)fz_onion_error_take();
        }
    }
    pending = (int)BIO_pending(s);
    ret = BIO_read(s, pb->buf, sizeof(pb->buf));
    if (ret > 0) {
        FZ_CHECK((size_t)ret <= sizeof(pb->buf), "read %d", ret);
        if (pb->echo_len == 0) {
            memcpy(pb->echo, pb->buf, (size_t)ret);
            pb->echo_len = (size_t)ret;
        }
        prog = 1;
    } else if (ret < 0 && BIO_should_retry(s)) {
        FZ_CHECK(pending <= 0 || !BIO_should_read(s),
                 "BIO_pending said %d but the read wants to read more",
                 pending);
    } else if (ret == 0 && depth > 0) {
        FZ_CHECK(BIO_onion_peer_closed(s) || BIO_onion_get_depth(s) < depth,
                 "read returned 0 at depth %d without close_notify", depth);
        prog |= server_pop(pb);
    } else if (depth > 0) {
        FZ_CHECK(fz_onion_error_take(),
                 "read failed (%d) at depth %d without an error", ret, depth);
        FZ_CHECK(BIO_onion_get_error_layer(s) != BIO_ONION_ERROR_NONE,
                 "read failed at depth %d, no error layer", depth);
        /* Discard the failed layers; healthy ones below go on. */
        prog |= server_pop(pb);
    }
    fz_check_onion(s, pb->depth);
    if (BIO_onion_get_depth(s) != depth)
        prog = 1;
    ERR_clear_error();
    return prog;
}

/* Takes what the server wrote (inner mode: through the real client). */
static int drain_peer(PB *pb)
{
    BIO *from = pb->client != NULL ? pb->client : pb->wire;
    int prog = 0, ret;

    fz_rng_select(FZ_RNG_CLIENT);
    while ((ret = BIO_read(from, pb->buf, sizeof(pb->buf))) > 0)
        prog = 1;
    if (pb->client != NULL && ret == 0 && BIO_onion_peer_closed(pb->client)) {
        /* The server closed a layer under the fuzzed one: answer it. */
        if (BIO_onion_pop(pb->client) == 1)
            prog = 1;
    }
    ERR_clear_error();
    return prog;
}

static int feed(PB *pb, const unsigned char *in, size_t n, size_t *off,
                size_t chunk)
{
    size_t want = n - *off;
    int ret;

    if (want == 0)
        return 0;
    if (chunk > 0 && want > chunk)
        want = chunk;
    fz_rng_select(FZ_RNG_CLIENT);
    ret = BIO_write(pb->feed, in + *off, (int)want);
    if (ret > 0) {
        *off += (size_t)ret;
        return 1;
    }
    if (!BIO_should_retry(pb->feed))
        *off = n; /* the peer's side broke: nothing more can go */
    ERR_clear_error();
    return 0;
}

static void run(PB *pb, const unsigned char *in, size_t n, size_t chunk)
{
    size_t off = 0;
    int quiet = 0, rounds = 0, prog;

    while (quiet < 3 && rounds++ < PB_ROUNDS) {
        prog = feed(pb, in, n, &off, chunk);
        prog |= server_round(pb);
        prog |= drain_peer(pb);
        quiet = prog || off < n ? 0 : quiet + 1;
    }
}

/* Sets up the server, and in inner mode the client and the outer layers. */
static int setup(PB *pb, unsigned char b0)
{
    BIO *sb = NULL;
    int depth = 1 + (b0 & 3) % 3;
    int inner = (b0 >> 2) & 1;
    int i, c, s, rounds = 0;

    memset(pb, 0, sizeof(*pb));
    fz_rng_reset();
    FZ_CHECK(BIO_new_bio_pair(&pb->wire, 0, &sb, 0) == 1, "bio pair");
    pb->server = BIO_new_onion();
    FZ_CHECK(pb->server != NULL, "onion");
    BIO_push(pb->server, sb);
    BIO_onion_set_flags(pb->server, (b0 & 0x20) ? BIO_ONION_AUTO_POP : 0);
    BIO_onion_set_callback(pb->server, on_event, pb);
    pb->feed = pb->wire;
    if (inner && depth > 1) {
        pb->client = BIO_new_onion();
        FZ_CHECK(pb->client != NULL, "onion");
        BIO_push(pb->client, pb->wire);
        for (i = 0; i < depth - 1; i++) {
            fz_rng_select(FZ_RNG_CLIENT);
            FZ_CHECK(
                BIO_onion_push_tls(pb->client, fz_client_ctx(cfg_of(b0, i)), 1)
                    == 1,
                "client push");
            fz_rng_select(FZ_RNG_SERVER);
            server_push(pb, b0, i);
        }
        do {
            fz_rng_select(FZ_RNG_CLIENT);
            c = (int)BIO_do_handshake(pb->client);
            fz_rng_select(FZ_RNG_SERVER);
            s = (int)BIO_do_handshake(pb->server);
            FZ_CHECK((c > 0 || BIO_should_retry(pb->client))
                         && (s > 0 || BIO_should_retry(pb->server)),
                     "outer handshakes failed");
        } while ((c <= 0 || s <= 0) && rounds++ < 1000);
        FZ_CHECK(c > 0 && s > 0, "outer handshakes did not finish");
        pb->feed = pb->client;
    }
    fz_rng_select(FZ_RNG_SERVER);
    while (pb->depth < depth)
        server_push(pb, b0, pb->depth);
    return inner && depth > 1;
}

static void teardown(PB *pb)
{
    if (pb->client != NULL)
        BIO_free_all(pb->client);
    else
        BIO_free(pb->wire);
    BIO_free_all(pb->server);
    ERR_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static PB pb;
    unsigned char b0;
    size_t chunk;
    int inner;

    if (size < 2)
        return 0;
    b0 = data[0];
    chunk = data[1];
    inner = setup(&pb, b0);
    run(&pb, data + 2, size - 2, chunk);

    /* The end: a transport EOF, or a clean close of the layer below. */
    fz_rng_select(FZ_RNG_CLIENT);
    if (inner && (b0 & 0x40) != 0)
        (void)BIO_onion_pop(pb.client);
    BIO_shutdown_wr(pb.wire);
    run(&pb, NULL, 0, 0);
    fz_rng_select(FZ_RNG_SERVER);
    if (BIO_onion_get_depth(pb.server) > 0
        && BIO_onion_get_error_layer(pb.server) == BIO_ONION_ERROR_NONE
        && !BIO_onion_peer_closed(pb.server)) {
        /* One more read must see the end; a retry here is a hang. */
        int ret = BIO_read(pb.server, pb.buf, sizeof(pb.buf));

        FZ_CHECK(ret > 0 || !BIO_should_retry(pb.server),
                 "the transport ended but the onion (depth %d) still waits "
                 "(retry read %d write %d)",
                 BIO_onion_get_depth(pb.server), BIO_should_read(pb.server),
                 BIO_should_write(pb.server));
    }
    if (getenv("ONION_FUZZ_DEBUG") != NULL)
        fprintf(stderr,
                "fuzz-peer-bytes: depth %d (%s), %d handshakes done, %zu "
                "bytes echoed, %d layers popped, error layer %d\n",
                pb.depth, inner ? "inner" : "raw", pb.hs_done, pb.echoed,
                pb.popped, BIO_onion_get_error_layer(pb.server));
    teardown(&pb);
    return 0;
}

/* Corpus generation: real clients recorded. */

static size_t gen_one(unsigned char b0, unsigned char *out, size_t cap)
{
    static PB pb;
    BIO *tap, *cli, *below;
    static const char msg[] = "GET / HTTP/1.1\r\nHost: fuzz.test\r\n\r\n";
    int depth = 1 + (b0 & 3) % 3, i, rounds, ret, popped = 0;
    const unsigned char *rec;
    size_t len = 0, sent = 0;

    setup(&pb, b0);
    /* The recorded client: all layers (raw) or the innermost (inner). */
    below = pb.client != NULL ? pb.client : pb.wire;
    tap = tap_new();
    cli = BIO_new_onion();
    FZ_CHECK(tap != NULL && cli != NULL, "gen");
    BIO_push(tap, below);
    BIO_push(cli, tap);
    tap_set_armed(tap, TAP_WRITE, 1);
    fz_rng_select(FZ_RNG_INNER);
    for (i = pb.client != NULL ? depth - 1 : 0; i < depth; i++)
        FZ_CHECK(BIO_onion_push_tls(cli, fz_client_ctx(cfg_of(b0, i)), 1) == 1,
                 "gen push");
    for (rounds = 0; rounds < 2000 && !popped; rounds++) {
        fz_rng_select(FZ_RNG_INNER);
        if (sent < sizeof(msg) - 1) {
            ret = BIO_write(cli, msg + sent, (int)(sizeof(msg) - 1 - sent));
            if (ret > 0)
                sent += (size_t)ret;
        } else {
            ret = (int)BIO_read(cli, pb.buf, sizeof(pb.buf));
            if (ret > 0)
                len += (size_t)ret;
            if (len >= sizeof(msg) - 1) {
                while (BIO_onion_get_depth(cli) > 0 && BIO_onion_pop(cli) == 1)
                    continue;
                popped = BIO_onion_get_depth(cli) == 0;
            }
        }
        ERR_clear_error();
        server_round(&pb);
        if (pb.client != NULL) {
            /* The real client passes the server's bytes up to |cli|. */
            fz_rng_select(FZ_RNG_CLIENT);
            ERR_clear_error();
        } else {
            /* |cli| reads |wire| itself. */
        }
    }
    /* Let the server finish its side of the closes. */
    for (i = 0; i < 50; i++) {
        server_round(&pb);
        fz_rng_select(FZ_RNG_INNER);
        if (BIO_onion_get_depth(cli) > 0)
            (void)BIO_onion_pop(cli);
        ERR_clear_error();
    }
    rec = tap_data(tap, TAP_WRITE, NULL);
    len = tap_len(tap, TAP_WRITE);
    if (len + 2 > cap)
        len = cap - 2;
    out[0] = b0;
    out[1] = 0;
    memcpy(out + 2, rec, len);
    /* |cli| and |tap| sit on |below|, which teardown frees. */
    BIO_pop(tap);
    BIO_free(cli);
    BIO_free(tap);
    teardown(&pb);
    return len + 2;
}

static void generate(const char *dir)
{
    static unsigned char out[1 << 20];
    unsigned int depth, inner, cfg;
    char name[64];
    size_t len;

    for (depth = 0; depth < 3; depth++)
        for (inner = 0; inner < 2; inner++)
            for (cfg = 0; cfg < FZ_NCFG; cfg++) {
                unsigned char b0 =
                    (unsigned char)(depth | (inner << 2) | (cfg << 3));

                if (inner && depth == 0)
                    continue;
                len = gen_one(b0, out, sizeof(out));
                snprintf(name, sizeof(name), "d%u-%s-cfg%u", depth + 1,
                         inner ? "inner" : "raw", cfg);
                FZ_CHECK(fz_write_file(dir, name, out, len), "write %s", name);
                fprintf(stderr, "%s: %zu bytes\n", name, len);
            }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *gen = getenv("ONION_FUZZ_GEN");

    (void)argc;
    (void)argv;
    fz_init();
    if (gen != NULL) {
        generate(gen);
        exit(0);
    }
    return 0;
}
