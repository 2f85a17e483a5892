/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * Misuse: pop at depth 0, NULL arguments, a push onto an onion without a
 * next BIO, BIO_onion_get_ssl out of range, a push while the innermost
 * layer closes, an SSL already in use, a DTLS SSL, onion calls on a BIO
 * that is no onion.  Each is a clear error on the queue, from the
 * bio_onion library (BIO_onion_error_library) with the right
 * BIO_ONION_R_* reason, and a failed push leaves the SSL the caller's.
 * Also: errors the caller left on the queue never turn a retry into a
 * failure.
 */

#include <string.h>

#include <openssl/err.h>

#include "unit.h"

static SSL_CTX *misuse_ctx(void)
{
    return certs_client_ctx(&unit_layer_opts[0]);
}

static void test_misuse_pop_depth_0(void)
{
    BIO *b = BIO_new_onion(), *mem = BIO_new(BIO_s_mem());
    int r;

    if (!CHECK(b != NULL && mem != NULL, "BIO allocation")) {
        BIO_free(b);
        BIO_free(mem);
        return;
    }
    BIO_push(b, mem);
    ERR_clear_error();
    r = BIO_onion_pop(b);
    CHECK(r <= 0 && !BIO_should_retry(b),
          "pop at depth 0 returned %d, "
          "retry %d",
          r, BIO_should_retry(b));
    EXPECT_ONION_ERROR(BIO_ONION_R_NO_LAYER, "pop at depth 0");
    CHECK(BIO_onion_get_depth(b) == 0, "depth %d", BIO_onion_get_depth(b));
    BIO_free_all(b);
}

static void test_misuse_push_null(void)
{
    BIO *b = BIO_new_onion(), *mem = BIO_new(BIO_s_mem());
    SSL_CTX *ctx = misuse_ctx();
    SSL *ssl = NULL;
    int r;

    if (!CHECK(b != NULL && mem != NULL && ctx != NULL, "allocation")) {
        BIO_free(mem);
        goto end;
    }
    BIO_push(b, mem);
    ERR_clear_error();
    r = BIO_onion_push_ssl(b, NULL);
    CHECK(r <= 0, "push of NULL returned %d", r);
    EXPECT_ONION_ERROR(BIO_ONION_R_NULL_ARGUMENT, "BIO_onion_push_ssl(NULL)");
    r = BIO_onion_push_tls(b, NULL, 1);
    CHECK(r <= 0, "push_tls of a NULL ctx returned %d", r);
    EXPECT_ONION_ERROR(BIO_ONION_R_NULL_ARGUMENT, "BIO_onion_push_tls(NULL)");
    r = BIO_onion_push_ssl_with_data(b, NULL, "x", 1);
    CHECK(r <= 0, "push_ssl_with_data of NULL returned %d", r);
    EXPECT_ONION_ERROR(BIO_ONION_R_NULL_ARGUMENT,
                       "BIO_onion_push_ssl_with_data(NULL ssl)");
    ssl = SSL_new(ctx);
    if (!CHECK(ssl != NULL, "SSL_new"))
        goto end;
    r = BIO_onion_push_ssl_with_data(b, ssl, NULL, 5);
    CHECK(r <= 0, "push_ssl_with_data(NULL data, 5) returned %d", r);
    EXPECT_ONION_ERROR(BIO_ONION_R_NULL_ARGUMENT,
                       "BIO_onion_push_ssl_with_data(NULL data)");
    CHECK(SSL_get_rbio(ssl) == NULL && SSL_get_wbio(ssl) == NULL,
          "a failed push changed the caller's SSL");
    CHECK(BIO_onion_get_depth(b) == 0, "depth %d after failed pushes",
          BIO_onion_get_depth(b));
end:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    BIO_free_all(b);
}

static void test_misuse_push_without_next_bio(void)
{
    BIO *b = BIO_new_onion();
    SSL_CTX *ctx = misuse_ctx();
    SSL *ssl = ctx != NULL ? SSL_new(ctx) : NULL;
    int r;

    if (!CHECK(b != NULL && ssl != NULL, "allocation"))
        goto end;
    ERR_clear_error();
    r = BIO_onion_push_ssl(b, ssl);
    CHECK(r <= 0, "push onto an onion without next BIO returned %d", r);
    EXPECT_ONION_ERROR(BIO_ONION_R_NO_NEXT_BIO, "push without a next BIO");
    /* The SSL is still ours: freeing it below must be the only free. */
    CHECK(SSL_get_rbio(ssl) == NULL && SSL_get_wbio(ssl) == NULL,
          "a failed push changed the caller's SSL");
    r = BIO_onion_push_tls(b, ctx, 1);
    CHECK(r <= 0, "push_tls onto an onion without next BIO returned %d", r);
    EXPECT_ONION_ERROR(BIO_ONION_R_NO_NEXT_BIO, "push_tls without a next BIO");
    CHECK(BIO_onion_get_depth(b) == 0, "depth %d", BIO_onion_get_depth(b));
end:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    BIO_free(b);
}

static void test_misuse_get_ssl_out_of_range(void)
{
    BIO *b = BIO_new_onion(), *mem = BIO_new(BIO_s_mem());
    SSL_CTX *ctx = misuse_ctx();
    SSL *ssl = NULL, *got;
    static const long bad0[] = { 0, -1, 1 };
    static const long bad1[] = { 1, -2, 2, 100, -100 };
    size_t i;
    int r;

    if (!CHECK(b != NULL && mem != NULL && ctx != NULL, "allocation")) {
        BIO_free(mem);
        goto end;
    }
    BIO_push(b, mem);
    ERR_clear_error();
    for (i = 0; i < sizeof(bad0) / sizeof(bad0[0]); i++) {
        got = (SSL *)&got; /* not NULL: the call must reset it */
        r = BIO_onion_get_ssl(b, bad0[i], &got);
        CHECK(r == 0 && got == NULL,
              "get_ssl(%ld) at depth 0 returned %d, ssl %p", bad0[i], r,
              (void *)got);
        EXPECT_ONION_ERROR(BIO_ONION_R_BAD_INDEX, "get_ssl at depth 0");
    }
    ssl = SSL_new(ctx);
    if (!CHECK(ssl != NULL, "SSL_new"))
        goto end;
    SSL_set_connect_state(ssl);
    r = BIO_onion_push_ssl(b, ssl);
    if (!CHECK(r == 1, "push over a memory BIO returned %d", r))
        goto end;
    got = ssl;
    ssl = NULL; /* the onion's now */
    for (i = 0; i < sizeof(bad1) / sizeof(bad1[0]); i++) {
        SSL *g = (SSL *)&g;

        r = BIO_onion_get_ssl(b, bad1[i], &g);
        CHECK(r == 0 && g == NULL,
              "get_ssl(%ld) at depth 1 returned %d, ssl %p", bad1[i], r,
              (void *)g);
        EXPECT_ONION_ERROR(BIO_ONION_R_BAD_INDEX, "get_ssl at depth 1");
    }
    {
        SSL *g0 = NULL, *g1 = NULL;

        CHECK(BIO_onion_get_ssl(b, 0, &g0) == 1 && g0 == got,
              "get_ssl(0) at depth 1");
        CHECK(BIO_onion_get_ssl(b, -1, &g1) == 1 && g1 == got,
              "get_ssl(-1) at depth 1");
    }
end:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    BIO_free_all(b);
}

static void test_misuse_push_while_closing(void)
{
    UNIT_CTXS ctxs;
    BIO *c = NULL, *s = NULL;
    SSL *ssl = NULL;
    int r;

    if (!unit_ctxs_new(&ctxs, NULL, 2))
        return;
    if (!unit_pair_onions(&c, &s, &ctxs, 1))
        goto end;
    r = BIO_onion_pop(c);
    if (!CHECK(r <= 0 && BIO_should_retry(c),
               "non-blocking pop without the peer's close_notify returned %d "
               "(retry %d)",
               r, BIO_should_retry(c)))
        goto end;
    ssl = SSL_new(ctxs.client[1]);
    if (!CHECK(ssl != NULL, "SSL_new"))
        goto end;
    ERR_clear_error();
    r = BIO_onion_push_ssl(c, ssl);
    CHECK(r <= 0, "push while the innermost layer closes returned %d", r);
    EXPECT_ONION_ERROR(BIO_ONION_R_LAYER_CLOSING, "push while closing");
    CHECK(SSL_get_rbio(ssl) == NULL, "a failed push changed the SSL");
    CHECK(BIO_onion_get_depth(c) == 1, "depth %d", BIO_onion_get_depth(c));
end:
    SSL_free(ssl);
    BIO_free_all(c);
    BIO_free_all(s);
    unit_ctxs_free(&ctxs);
}

static void test_misuse_ssl_in_use(void)
{
    BIO *b = BIO_new_onion(), *b2 = BIO_new_onion();
    BIO *mem = BIO_new(BIO_s_mem()), *mem2 = BIO_new(BIO_s_mem());
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    SSL_CTX *ctx = misuse_ctx();
    SSL *started = NULL, *owned = NULL;
    int r;

    if (!CHECK(b != NULL && b2 != NULL && mem != NULL && mem2 != NULL
                   && rb != NULL && wb != NULL && ctx != NULL,
               "allocation")) {
        BIO_free(mem);
        BIO_free(mem2);
        BIO_free(rb);
        BIO_free(wb);
        goto end;
    }
    BIO_push(b, mem);
    BIO_push(b2, mem2);
    /* An SSL whose handshake has started elsewhere. */
    started = SSL_new(ctx);
    if (!CHECK(started != NULL, "SSL_new")) {
        BIO_free(rb);
        BIO_free(wb);
        goto end;
    }
    SSL_set_bio(started, rb, wb);
    SSL_set_connect_state(started);
    r = SSL_do_handshake(started);
    CHECK(r <= 0 && SSL_get_error(started, r) == SSL_ERROR_WANT_READ,
          "handshake over memory BIOs: %d", r);
    ERR_clear_error();
    r = BIO_onion_push_ssl(b, started);
    CHECK(r <= 0, "push of an SSL in use returned %d", r);
    EXPECT_ONION_ERROR(BIO_ONION_R_SSL_IN_USE, "push of a started SSL");
    CHECK(SSL_get_rbio(started) == rb && SSL_get_wbio(started) == wb,
          "a failed push changed the caller's SSL");
    /* An SSL already in another onion. */
    owned = SSL_new(ctx);
    if (!CHECK(owned != NULL, "SSL_new"))
        goto end;
    SSL_set_connect_state(owned);
    r = BIO_onion_push_ssl(b2, owned);
    if (!CHECK(r == 1, "push returned %d", r)) {
        SSL_free(owned);
        goto end;
    }
    r = BIO_onion_push_ssl(b, owned);
    CHECK(r <= 0, "push of an SSL owned by another onion returned %d", r);
    EXPECT_ONION_ERROR(BIO_ONION_R_SSL_IN_USE,
                       "push of an SSL of another onion");
    CHECK(BIO_onion_get_depth(b) == 0 && BIO_onion_get_depth(b2) == 1,
          "depths %d and %d", BIO_onion_get_depth(b), BIO_onion_get_depth(b2));
end:
    SSL_free(started);
    SSL_CTX_free(ctx);
    BIO_free_all(b);
    BIO_free_all(b2);
}

static void test_misuse_dtls(void)
{
    BIO *b = BIO_new_onion(), *mem = BIO_new(BIO_s_mem());
    SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());
    SSL *ssl = ctx != NULL ? SSL_new(ctx) : NULL;
    int r;

    if (!CHECK(b != NULL && mem != NULL && ssl != NULL, "allocation")) {
        BIO_free(mem);
        goto end;
    }
    BIO_push(b, mem);
    ERR_clear_error();
    r = BIO_onion_push_ssl(b, ssl);
    CHECK(r <= 0, "push of a DTLS SSL returned %d", r);
    EXPECT_ONION_ERROR(BIO_ONION_R_UNSUPPORTED_SSL, "push of a DTLS SSL");
    CHECK(SSL_get_rbio(ssl) == NULL, "a failed push changed the SSL");
end:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    BIO_free_all(b);
}

static void cb_ignore(BIO *b, int event, int layer, void *arg)
{
    (void)b;
    (void)event;
    (void)layer;
    (void)arg;
}

static void test_misuse_not_an_onion(void)
{
    BIO *mem = BIO_new(BIO_s_mem()), *b = BIO_new_onion();

    if (CHECK(mem != NULL && b != NULL, "allocation")) {
        CHECK(BIO_onion_get_error_layer(mem) == BIO_ONION_ERROR_NONE,
              "error layer of a memory BIO: %d",
              BIO_onion_get_error_layer(mem));
        CHECK(BIO_onion_set_callback(mem, cb_ignore, NULL) == 0,
              "set_callback on a memory BIO succeeded");
        CHECK(BIO_onion_get_error_layer(b) == BIO_ONION_ERROR_NONE,
              "error layer of a fresh onion: %d", BIO_onion_get_error_layer(b));
        CHECK(BIO_onion_get_depth(b) == 0 && BIO_onion_get_flags(b) == 0
                  && BIO_onion_peer_closed(b) == 0,
              "fresh onion state");
        CHECK(BIO_onion_set_callback(b, cb_ignore, NULL) == 1,
              "set_callback on an onion failed");
    }
    ERR_clear_error();
    BIO_free(mem);
    BIO_free(b);
}

/*
 * An error the caller left on the queue must not turn a retry into a
 * failure (SSL_get_error reports SSL_ERROR_SSL when the queue is not
 * empty).  Where OpenSSL itself leaves the queue alone (reads, writes,
 * shutdown; not the handshake, whose state machine clears it) the onion
 * must too: |keep| asks for the caller's error to still be there.
 */
static int stale_error_then(BIO *b, int r, int want_read, int keep,
                            const char *what)
{
    unsigned long first = ERR_peek_error(), last = ERR_peek_last_error();
    int ok;

    ok = CHECK(r <= 0 && BIO_should_retry(b)
                   && (want_read ? BIO_should_read(b) : BIO_should_write(b)),
               "%s with an old error on the queue returned %d, retry %d "
               "(read %d, write %d): expected a %s retry",
               what, r, BIO_should_retry(b), BIO_should_read(b),
               BIO_should_write(b), want_read ? "read" : "write");
    if (ok && keep)
        ok = CHECK(ERR_GET_LIB(first) == ERR_LIB_USER
                       && ERR_GET_REASON(first) == 42 && last == first,
                   "%s: the caller's error queue changed (first %lx, last "
                   "%lx)",
                   what, first, last);
    ERR_clear_error();
    return ok;
}

static void test_misuse_stale_queue_keeps_retry(void)
{
    UNIT_CTXS ctxs;
    BIO *c = NULL, *s = NULL;
    unsigned char buf[1024];
    int r, i;

    memset(buf, 'x', sizeof(buf));
    if (!unit_ctxs_new(&ctxs, NULL, 2))
        return;
    /* A read with nothing to read, then a pop waiting for the peer. */
    if (!unit_pair_onions(&c, &s, &ctxs, 2))
        goto end;
    ERR_raise(ERR_LIB_USER, 42);
    r = BIO_read(c, buf, sizeof(buf));
    if (!stale_error_then(c, r, 1, 1, "BIO_read"))
        goto end;
    ERR_raise(ERR_LIB_USER, 42);
    r = BIO_onion_pop(c);
    if (!stale_error_then(c, r, 1, 1, "BIO_onion_pop"))
        goto end;
    BIO_free_all(c);
    BIO_free_all(s);
    /* Writes into a transport the peer does not read. */
    if (!unit_pair_onions(&c, &s, &ctxs, 1))
        goto end;
    for (i = 0; i < 1000; i++) {
        ERR_raise(ERR_LIB_USER, 42);
        r = BIO_write(c, buf, sizeof(buf));
        if (r <= 0)
            break;
        ERR_clear_error();
    }
    if (!stale_error_then(c, r, 0, 1, "BIO_write into a full transport"))
        goto end;
    BIO_free_all(c);
    BIO_free_all(s);
    /* A new server layer whose handshake waits for the client. */
    if (!unit_pair_onions(&c, &s, &ctxs, 1)
        || !CHECK(BIO_onion_push_tls(s, ctxs.server[1], 0) == 1, "push"))
        goto end;
    ERR_raise(ERR_LIB_USER, 42);
    r = BIO_do_handshake(s);
    stale_error_then(s, r, 1, 0, "BIO_do_handshake");
end:
    ERR_clear_error();
    BIO_free_all(c);
    BIO_free_all(s);
    unit_ctxs_free(&ctxs);
}

int register_misuse_suite(void)
{
    CU_pSuite s = CU_add_suite("misuse", unit_suite_init, unit_suite_cleanup);

    return s != NULL
        && CU_add_test(s, "pop_depth_0", test_misuse_pop_depth_0) != NULL
        && CU_add_test(s, "push_null", test_misuse_push_null) != NULL
        && CU_add_test(s, "push_without_next_bio",
                       test_misuse_push_without_next_bio)
        != NULL
        && CU_add_test(s, "get_ssl_out_of_range",
                       test_misuse_get_ssl_out_of_range)
        != NULL
        && CU_add_test(s, "push_while_closing", test_misuse_push_while_closing)
        != NULL
        && CU_add_test(s, "ssl_in_use", test_misuse_ssl_in_use) != NULL
        && CU_add_test(s, "dtls", test_misuse_dtls) != NULL
        && CU_add_test(s, "not_an_onion", test_misuse_not_an_onion) != NULL
        && CU_add_test(s, "stale_queue_keeps_retry",
                       test_misuse_stale_queue_keeps_retry)
        != NULL;
}
