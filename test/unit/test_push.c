/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * Push: STARTTLS after a plaintext exchange; push with leftover data, where
 * the client's STARTTLS line and its ClientHello arrive in one write and
 * the server reads the line together with the first handshake bytes, then
 * hands those to BIO_onion_push_ssl_with_data (at depth 0 and inside a
 * layer); pushing an explicit SSL.
 */

#include <string.h>

#include "unit.h"

#define STARTTLS "STARTTLS\r\n"
#define STARTTLS_LEN (sizeof(STARTTLS) - 1)
#define GO_AHEAD "220 go ahead\r\n"
#define GO_AHEAD_LEN (sizeof(GO_AHEAD) - 1)

/* Sizes of leftover data that the server reads with the STARTTLS line. */
#define LEFT_ALL 0 /* everything that arrived (the whole ClientHello) */

typedef struct push_arg_st {
    UNIT_CTXS ctxs;
    PAYLOAD c2s, s2c;
    size_t leftover; /* LEFT_ALL or a byte count */
    int depth;       /* depth at which the STARTTLS happens */
} PUSH_ARG;

static int exchange(PEER *p, BIO *b, const PUSH_ARG *a)
{
    if (p->is_client)
        return peer_send(p, b, &a->c2s, 0) && peer_flush(p, b)
            && peer_recv(p, b, &a->s2c, 0);
    return peer_recv(p, b, &a->c2s, 0) && peer_send(p, b, &a->s2c, 0)
        && peer_flush(p, b);
}

static int check_plaintext(PEER *p, BIO *b, const char *want, size_t len)
{
    unsigned char buf[64];

    return peer_read_exact(p, b, buf, len, 0)
        && PEER_CHECK(p, memcmp(buf, want, len) == 0,
                      "plaintext '%.*s' differs", (int)len, want);
}

/*
 * Pops every layer of |b|, then of |outer| (an onion further down the
 * chain, or NULL), the client first, and exchanges a plaintext line.
 */
static int close_all(PEER *p, BIO *b, BIO *outer)
{
    while (BIO_onion_get_depth(b) > 0) {
        if (!p->is_client && !peer_expect_closed(p, b))
            return 0;
        if (!peer_pop(p, b))
            return 0;
    }
    while (outer != NULL && outer != b && BIO_onion_get_depth(outer) > 0) {
        if (!p->is_client && !peer_expect_closed(p, outer))
            return 0;
        if (!peer_pop(p, outer))
            return 0;
    }
    if (p->is_client)
        return peer_write_all(p, b, "end\n", 4, 0) && peer_flush(p, b);
    return check_plaintext(p, b, "end\n", 4);
}

static int after_plaintext_side(PEER *p)
{
    PUSH_ARG *a = p->arg;
    BIO *b = p->top;
    int c = p->is_client;
    int i;

    for (i = 0; i < 2; i++) {
        SSL_CTX *ctx = c ? a->ctxs.client[i] : a->ctxs.server[i];

        if (c) {
            if (!peer_write_all(p, b, STARTTLS, STARTTLS_LEN, 0)
                || !check_plaintext(p, b, GO_AHEAD, GO_AHEAD_LEN))
                return 0;
        } else {
            if (!check_plaintext(p, b, STARTTLS, STARTTLS_LEN)
                || !peer_write_all(p, b, GO_AHEAD, GO_AHEAD_LEN, 0))
                return 0;
        }
        if (!peer_push_handshake(p, b, ctx, c) || !exchange(p, b, a))
            return 0;
    }
    return close_all(p, b, NULL);
}

static void test_push_after_plaintext(void)
{
    PUSH_ARG a;

    memset(&a, 0, sizeof(a));
    if (unit_ctxs_new(&a.ctxs, NULL, 2)
        && CHECK(payload_init(&a.c2s, 65536, 11)
                     && payload_init(&a.s2c, 65536, 12),
                 "payloads"))
        RUN_PEERS(after_plaintext_side, &a, after_plaintext_side, &a, 0);
    payload_free(&a.c2s);
    payload_free(&a.s2c);
    unit_ctxs_free(&a.ctxs);
}

/*
 * The client puts a gather BIO (writes held until BIO_flush) under the
 * onion that will hold the new layer (at depth 0: between onion and
 * socket; at depth 1: a second onion on top of the first), writes the
 * STARTTLS line into it, pushes its layer and runs the handshake: the
 * handshake's flush sends the line and the ClientHello in one write.
 */
static int with_data_client(PEER *p)
{
    PUSH_ARG *a = p->arg;
    BIO *gather = NULL, *b;
    int ok = 0;

    if (a->depth == 1 && !peer_push_handshake(p, p->top, a->ctxs.client[0], 1))
        goto end;
    gather = gather_bio_new();
    if (!PEER_CHECK(p, gather != NULL, "gather_bio_new"))
        goto end;
    if (a->depth == 0) {
        /* onion -> gather -> socket */
        BIO_pop(p->onion);
        BIO_push(gather, p->sock);
        BIO_push(p->onion, gather);
        p->top = p->onion;
    } else {
        /* onion (new) -> gather -> onion (layer 0) -> socket */
        BIO *inner = BIO_new_onion();

        if (!PEER_CHECK(p, inner != NULL, "BIO_new_onion")) {
            BIO_free(gather);
            goto end;
        }
        BIO_push(gather, p->top);
        p->top = BIO_push(inner, gather);
    }
    b = p->top;
    if (!peer_write_all(p, b, STARTTLS, STARTTLS_LEN, 0)
        || !peer_push_handshake(p, b, a->ctxs.client[a->depth], 1)
        || !PEER_CHECK(p, gather_bio_flushes(gather) >= 1,
                       "the handshake never flushed the gather BIO")
        || !exchange(p, b, a))
        goto end;
    ok = close_all(p, b, p->onion);
end:
    return ok;
}

static int with_data_server(PEER *p)
{
    PUSH_ARG *a = p->arg;
    BIO *b = p->top;
    unsigned char in[4096];
    size_t want, reclen;
    SSL *ssl = NULL, *got = NULL;
    int n, r, ok = 0;

    if (a->depth == 1 && !peer_push_handshake(p, b, a->ctxs.server[0], 0))
        goto end;
    /*
     * One read: the line and (the start of) the ClientHello arrived
     * together.  With a byte count, read exactly the line plus that many
     * handshake bytes; the rest stays below.
     */
    want = a->leftover == LEFT_ALL ? sizeof(in) : STARTTLS_LEN + a->leftover;
    n = BIO_read(b, in, (int)want);
    if (!PEER_CHECK(p, n > (int)STARTTLS_LEN,
                    "one read returned %d bytes: the STARTTLS line and the "
                    "ClientHello did not arrive together",
                    n)
        || !PEER_CHECK(p, memcmp(in, STARTTLS, STARTTLS_LEN) == 0,
                       "STARTTLS line differs")
        || !PEER_CHECK(p, in[STARTTLS_LEN] == 22,
                       "byte after the line is %d, not a handshake record",
                       in[STARTTLS_LEN]))
        goto end;
    if (a->leftover == LEFT_ALL) {
        if (!PEER_CHECK(p, (size_t)n >= STARTTLS_LEN + 5, "%d bytes", n))
            goto end;
        reclen = ((size_t)in[STARTTLS_LEN + 3] << 8) | in[STARTTLS_LEN + 4];
        if (!PEER_CHECK(p, (size_t)n == STARTTLS_LEN + 5 + reclen,
                        "read %d bytes, expected the line and a whole "
                        "ClientHello record (%zu)",
                        n, STARTTLS_LEN + 5 + reclen))
            goto end;
    } else if (!PEER_CHECK(p, (size_t)n == want, "read %d of %zu bytes", n,
                           want)) {
        goto end;
    }
    ssl = SSL_new(a->ctxs.server[a->depth]);
    if (!PEER_CHECK(p, ssl != NULL, "SSL_new"))
        goto end;
    SSL_set_accept_state(ssl);
    r = BIO_onion_push_ssl_with_data(b, ssl, in + STARTTLS_LEN,
                                     (size_t)n - STARTTLS_LEN);
    if (!PEER_CHECK(p, r == 1, "push_ssl_with_data returned %d", r))
        goto end;
    /* The onion owns the SSL from here on. */
    if (!PEER_CHECK(p, BIO_onion_get_ssl(b, -1, &got) == 1 && got == ssl,
                    "innermost layer is not the pushed SSL"))
        goto end;
    ssl = NULL;
    /* The leftover bytes were copied: scribble over our buffer. */
    memset(in, 0xAA, sizeof(in));
    if (!peer_handshake(p, b)
        || !PEER_CHECK(p, BIO_onion_get_depth(b) == a->depth + 1, "depth %d",
                       BIO_onion_get_depth(b))
        || !exchange(p, b, a))
        goto end;
    ok = close_all(p, b, NULL);
end:
    SSL_free(ssl);
    return ok;
}

static void run_with_data(int depth, size_t leftover)
{
    PUSH_ARG a;

    memset(&a, 0, sizeof(a));
    a.depth = depth;
    a.leftover = leftover;
    if (unit_ctxs_new(&a.ctxs, NULL, depth + 1)
        && CHECK(payload_init(&a.c2s, 100000, 21)
                     && payload_init(&a.s2c, 100000, 22),
                 "payloads"))
        RUN_PEERS(with_data_client, &a, with_data_server, &a, 0);
    payload_free(&a.c2s);
    payload_free(&a.s2c);
    unit_ctxs_free(&a.ctxs);
}

static void test_push_with_data_depth0_whole_hello(void)
{
    run_with_data(0, LEFT_ALL);
}

static void test_push_with_data_depth0_one_byte(void)
{
    run_with_data(0, 1);
}

static void test_push_with_data_depth0_split_header(void)
{
    run_with_data(0, 3);
}

static void test_push_with_data_depth0_split_body(void)
{
    run_with_data(0, 100);
}

static void test_push_with_data_depth1_whole_hello(void)
{
    run_with_data(1, LEFT_ALL);
}

static void test_push_with_data_depth1_split_header(void)
{
    run_with_data(1, 4);
}

/*
 * BIO_onion_push_ssl with SSLs the test made: each side's innermost layer
 * is its own SSL; and push_ssl_with_data with no data works as a push.
 */
static int explicit_side(PEER *p)
{
    PUSH_ARG *a = p->arg;
    BIO *b = p->top;
    SSL *ssl = NULL, *got = NULL;
    int i, r, ok = 0;

    for (i = 0; i < 2; i++) {
        ssl = SSL_new(p->is_client ? a->ctxs.client[i] : a->ctxs.server[i]);
        if (!PEER_CHECK(p, ssl != NULL, "SSL_new"))
            goto end;
        if (p->is_client)
            SSL_set_connect_state(ssl);
        else
            SSL_set_accept_state(ssl);
        if (i == 0)
            r = BIO_onion_push_ssl(b, ssl);
        else
            r = BIO_onion_push_ssl_with_data(b, ssl, NULL, 0);
        if (!PEER_CHECK(p, r == 1, "push %d returned %d", i, r))
            goto end;
        if (!PEER_CHECK(p, BIO_onion_get_ssl(b, -1, &got) == 1 && got == ssl,
                        "innermost layer is not the pushed SSL"))
            goto end;
        ssl = NULL;
        if (!peer_handshake(p, b))
            goto end;
        if (!PEER_CHECK(p, SSL_is_server(got) == !p->is_client,
                        "layer %d has the wrong role", i))
            goto end;
    }
    if (!exchange(p, b, a))
        goto end;
    ok = close_all(p, b, NULL);
end:
    SSL_free(ssl);
    return ok;
}

static void test_push_explicit_ssl(void)
{
    PUSH_ARG a;

    memset(&a, 0, sizeof(a));
    if (unit_ctxs_new(&a.ctxs, NULL, 2)
        && CHECK(payload_init(&a.c2s, 30000, 31)
                     && payload_init(&a.s2c, 30000, 32),
                 "payloads"))
        RUN_PEERS(explicit_side, &a, explicit_side, &a, 0);
    payload_free(&a.c2s);
    payload_free(&a.s2c);
    unit_ctxs_free(&a.ctxs);
}

int register_push_suite(void)
{
    CU_pSuite s = CU_add_suite("push", unit_suite_init, unit_suite_cleanup);

    return s != NULL
        && CU_add_test(s, "after_plaintext", test_push_after_plaintext) != NULL
        && CU_add_test(s, "with_data_depth0_whole_hello",
                       test_push_with_data_depth0_whole_hello)
        != NULL
        && CU_add_test(s, "with_data_depth0_one_byte",
                       test_push_with_data_depth0_one_byte)
        != NULL
        && CU_add_test(s, "with_data_depth0_split_header",
                       test_push_with_data_depth0_split_header)
        != NULL
        && CU_add_test(s, "with_data_depth0_split_body",
                       test_push_with_data_depth0_split_body)
        != NULL
        && CU_add_test(s, "with_data_depth1_whole_hello",
                       test_push_with_data_depth1_whole_hello)
        != NULL
        && CU_add_test(s, "with_data_depth1_split_header",
                       test_push_with_data_depth1_split_header)
        != NULL
        && CU_add_test(s, "explicit_ssl", test_push_explicit_ssl) != NULL;
}
