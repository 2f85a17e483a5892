/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * Chains: BIO_f_buffer on top of an onion (BIO_gets, pushes and pops sent
 * as ctrls through the buffer BIO) and below it; interoperation with a plain nested
 * chain of OpenSSL's BIO_f_ssl on the other side, both roles; chained
 * single-layer onions and one multi-layer onion put the same sequence of
 * record lengths on the wire; inner records fit whole into outer records.
 */

#include <string.h>

#include "unit.h"

#define MODE_ONE 0     /* one onion with every layer */
#define MODE_CHAINED 1 /* one onion per layer, chained with BIO_push */

typedef struct chain_arg_st {
    UNIT_CTXS ctxs;
    CERTS_TLS_OPTS opts[4];
    int depth;
    int mode;
    unsigned int flags;
    PAYLOAD c2s, s2c;
    const size_t *writes; /* write sizes for the record tests, 0-terminated */
    RECBIO_LOG log;       /* the writer's records after the handshakes */
} CHAIN_ARG;

static int chain_arg_init(CHAIN_ARG *a, int depth, const int *layers,
                          size_t len)
{
    int i;

    memset(a, 0, sizeof(*a));
    a->depth = depth;
    for (i = 0; i < depth; i++)
        a->opts[i] = unit_layer_opts[layers != NULL ? layers[i] : i];
    return unit_ctxs_new(&a->ctxs, a->opts, depth)
        && CHECK(payload_init(&a->c2s, len, 51)
                     && payload_init(&a->s2c, len + 17, 52),
                 "payloads");
}

static void chain_arg_cleanup(CHAIN_ARG *a)
{
    payload_free(&a->c2s);
    payload_free(&a->s2c);
    recbio_log_free(&a->log);
    unit_ctxs_free(&a->ctxs);
}

static int exchange(PEER *p, BIO *b, const CHAIN_ARG *a)
{
    if (p->is_client)
        return peer_send(p, b, &a->c2s, 0) && peer_flush(p, b)
            && peer_recv(p, b, &a->s2c, 0);
    return peer_recv(p, b, &a->c2s, 0) && peer_send(p, b, &a->s2c, 0)
        && peer_flush(p, b);
}

/* Reads |pl| line by line with BIO_gets and checks it. */
static int gets_payload(PEER *p, BIO *b, const PAYLOAD *pl)
{
    unsigned char *got = OPENSSL_malloc(pl->len + 1);
    char line[256], why[512];
    size_t off = 0;
    int ok = 0;

    if (!PEER_CHECK(p, got != NULL, "malloc"))
        return 0;
    while (off < pl->len) {
        int n = BIO_gets(b, line, sizeof(line));

        if (!PEER_CHECK(p, n > 0, "BIO_gets returned %d after %zu of %zu bytes",
                        n, off, pl->len)
            || !PEER_CHECK(p, line[n - 1] == '\n',
                           "BIO_gets returned a partial line at %zu", off)
            || !PEER_CHECK(p, off + (size_t)n <= pl->len, "too much data"))
            goto end;
        memcpy(got + off, line, (size_t)n);
        off += (size_t)n;
    }
    ok =
        PEER_CHECK(p, payload_check(pl, got, off, why, sizeof(why)), "%s", why);
end:
    OPENSSL_free(got);
    return ok;
}

static int gets_expect(PEER *p, BIO *b, const char *want)
{
    char line[64];
    int n = BIO_gets(b, line, sizeof(line));

    return PEER_CHECK(p, n == (int)strlen(want) && memcmp(line, want, n) == 0,
                      "BIO_gets returned %d, expected '%s'", n, want);
}

/*
 * BIO_f_buffer on top of the onion: a plaintext STARTTLS dialogue, two
 * pushes and a pop sent through the buffer BIO, text read with BIO_gets.
 */
static int buffer_side(PEER *p)
{
    CHAIN_ARG *a = p->arg;
    BIO *buf = BIO_new(BIO_f_buffer());
    SSL *ssl = NULL;
    int c = p->is_client;
    int i, r, ok = 0;

    if (!PEER_CHECK(p, buf != NULL, "BIO_f_buffer"))
        goto end;
    p->top = BIO_push(buf, p->onion);
    if (c) {
        if (!PEER_CHECK(p, BIO_puts(buf, "STARTTLS\n") == 9, "BIO_puts")
            || !peer_flush(p, buf) || !gets_expect(p, buf, "OK\n"))
            goto end;
    } else {
        if (!gets_expect(p, buf, "STARTTLS\n")
            || !PEER_CHECK(p, BIO_puts(buf, "OK\n") == 3, "BIO_puts")
            || !peer_flush(p, buf))
            goto end;
    }
    for (i = 0; i < 2; i++) {
        /* The client pushes with the ctrl macro, the server from a ctx. */
        if (c) {
            ssl = SSL_new(a->ctxs.client[i]);
            if (!PEER_CHECK(p, ssl != NULL, "SSL_new"))
                goto end;
            SSL_set_connect_state(ssl);
            r = BIO_onion_push_ssl(buf, ssl);
            if (!PEER_CHECK(p, r == 1, "push through BIO_f_buffer: %d", r))
                goto end;
            ssl = NULL;
        } else {
            r = BIO_onion_push_tls(buf, a->ctxs.server[i], 0);
            if (!PEER_CHECK(p, r == 1, "push_tls through BIO_f_buffer: %d", r))
                goto end;
        }
        if (!peer_handshake(p, buf)
            || !PEER_CHECK(p, BIO_onion_get_depth(buf) == i + 1,
                           "depth through BIO_f_buffer: %d",
                           BIO_onion_get_depth(buf)))
            goto end;
        /* Text one way per layer, read with BIO_gets. */
        if (c == (i == 0)) {
            if (!gets_payload(p, buf, i == 0 ? &a->s2c : &a->c2s))
                goto end;
        } else {
            if (!peer_send(p, buf, i == 0 ? &a->s2c : &a->c2s, 1000)
                || !peer_flush(p, buf))
                goto end;
        }
    }
    /* The client pops layer 1 through the buffer BIO. */
    if (!c && !peer_expect_closed(p, buf))
        goto end;
    if (!peer_pop(p, buf))
        goto end;
    if (c) {
        if (!PEER_CHECK(p, BIO_puts(buf, "done\n") == 5, "BIO_puts")
            || !peer_flush(p, buf))
            goto end;
    } else if (!gets_expect(p, buf, "done\n")) {
        goto end;
    }
    ok = 1;
end:
    SSL_free(ssl);
    return ok;
}

static void test_chain_buffer_gets(void)
{
    CHAIN_ARG a;

    memset(&a, 0, sizeof(a));
    a.depth = 2;
    a.opts[0] = unit_layer_opts[0];
    a.opts[1] = unit_layer_opts[3];
    if (unit_ctxs_new(&a.ctxs, a.opts, 2)
        && CHECK(payload_init_text(&a.c2s, 50000, 77, 61)
                     && payload_init_text(&a.s2c, 70000, 100, 62),
                 "payloads"))
        RUN_PEERS(buffer_side, &a, buffer_side, &a, 0);
    chain_arg_cleanup(&a);
}

/*
 * The onion side: two layers, traffic, it pops layer 1, traffic on layer 0,
 * pops layer 0, plaintext.
 */
static int onion_interop_side(PEER *p)
{
    CHAIN_ARG *a = p->arg;
    BIO *b = p->top;
    int c = p->is_client;
    unsigned char plain[6];

    return peer_push_handshake(p, b, c ? a->ctxs.client[0] : a->ctxs.server[0],
                               c)
        && peer_push_handshake(p, b, c ? a->ctxs.client[1] : a->ctxs.server[1],
                               c)
        && exchange(p, b, a) && peer_pop(p, b) && exchange(p, b, a)
        && peer_pop(p, b)
        && (c ? peer_write_all(p, b, "plain!", 6, 0) && peer_flush(p, b)
              : peer_read_exact(p, b, plain, 6, 0)
                    && PEER_CHECK(p, memcmp(plain, "plain!", 6) == 0,
                                  "plaintext differs"));
}

/*
 * A BIO_f_buffer below the onion on a blocking socket (onion -> buffer ->
 * socket), as a client that gathers its writes would have it.  BIO_f_buffer
 * fills a read request larger than its buffer before it returns, so the
 * onion must not ask the BIO below for more than the peer has sent.
 */
static int buffer_below_client(PEER *p)
{
    BIO *buf = BIO_new(BIO_f_buffer());

    if (!PEER_CHECK(p, buf != NULL, "BIO_f_buffer"))
        return 0;
    BIO_pop(p->onion);
    BIO_push(buf, p->sock);
    p->top = BIO_push(p->onion, buf);
    return onion_interop_side(p);
}

static void test_chain_buffer_below_onion_blocking(void)
{
    CHAIN_ARG a;

    if (chain_arg_init(&a, 2, NULL, 50000))
        RUN_PEERS(buffer_below_client, &a, onion_interop_side, &a, 0);
    chain_arg_cleanup(&a);
}

/*
 * An onion whose next BIO is OpenSSL's BIO_f_ssl: the client runs layer 0
 * in a BIO_f_ssl on the socket and layer 1 in an onion on top of it; the
 * server is one onion of two layers.  The onion pops layer 1, then talks
 * through the BIO_f_ssl at depth 0, which closes layer 0 itself.
 */
static int over_ssl_client(PEER *p)
{
    CHAIN_ARG *a = p->arg;
    BIO *ssl0 = BIO_new_ssl(a->ctxs.client[0], 1);
    SSL *s0 = NULL;
    int r;

    if (!PEER_CHECK(p, ssl0 != NULL, "BIO_new_ssl"))
        return 0;
    BIO_pop(p->onion);
    BIO_push(ssl0, p->sock);
    p->top = BIO_push(p->onion, ssl0);
    r = BIO_do_handshake(ssl0);
    if (!PEER_CHECK(p, r == 1, "BIO_f_ssl handshake %d", r)
        || !peer_push_handshake(p, p->onion, a->ctxs.client[1], 1)
        || !exchange(p, p->onion, a) || !peer_pop(p, p->onion)
        || !PEER_CHECK(p, BIO_onion_get_depth(p->onion) == 0, "depth %d",
                       BIO_onion_get_depth(p->onion))
        || !exchange(p, p->onion, a))
        return 0;
    BIO_get_ssl(ssl0, &s0);
    r = SSL_shutdown(s0);
    if (r == 0)
        r = SSL_shutdown(s0);
    return PEER_CHECK(p, r == 1, "SSL_shutdown of layer 0: %d", r);
}

static int over_ssl_server(PEER *p)
{
    CHAIN_ARG *a = p->arg;
    BIO *b = p->top;

    return peer_push_handshake(p, b, a->ctxs.server[0], 0)
        && peer_push_handshake(p, b, a->ctxs.server[1], 0) && exchange(p, b, a)
        && peer_expect_closed(p, b) && peer_pop(p, b) && exchange(p, b, a)
        && peer_expect_closed(p, b) && peer_pop(p, b);
}

static void test_chain_onion_over_ssl_bio(void)
{
    static const int layers[2] = { 3, 0 };
    CHAIN_ARG a;

    if (chain_arg_init(&a, 2, layers, 100000))
        RUN_PEERS(over_ssl_client, &a, over_ssl_server, &a, 0);
    chain_arg_cleanup(&a);
}

/* Answers the peer's close_notify on the BIO_f_ssl |sslb|. */
static int ssl_chain_close(PEER *p, BIO *sslb)
{
    unsigned char byte;
    SSL *ssl = NULL;
    int r;

    BIO_get_ssl(sslb, &ssl);
    r = BIO_read(sslb, &byte, 1);
    if (!PEER_CHECK(p, r == 0 && SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN,
                    "BIO_f_ssl read %d (error %d), expected close_notify", r,
                    SSL_get_error(ssl, r)))
        return 0;
    r = SSL_shutdown(ssl);
    return PEER_CHECK(p, r == 1, "SSL_shutdown returned %d", r);
}

/*
 * The plain chain side: BIO_push(ssl2, BIO_push(ssl1, sock)); it answers
 * each close and removes that BIO_f_ssl from its chain.
 */
static int ssl_chain_side(PEER *p)
{
    CHAIN_ARG *a = p->arg;
    int c = p->is_client;
    BIO *ssl1 = NULL, *ssl2 = NULL;
    unsigned char plain[6];
    int r;

    ssl1 = BIO_new_ssl(c ? a->ctxs.client[0] : a->ctxs.server[0], c);
    if (!PEER_CHECK(p, ssl1 != NULL, "BIO_new_ssl"))
        return 0;
    p->top = BIO_push(ssl1, p->sock);
    r = BIO_do_handshake(ssl1);
    if (!PEER_CHECK(p, r == 1, "BIO_f_ssl layer 0 handshake: %d", r))
        return 0;
    ssl2 = BIO_new_ssl(c ? a->ctxs.client[1] : a->ctxs.server[1], c);
    if (!PEER_CHECK(p, ssl2 != NULL, "BIO_new_ssl"))
        return 0;
    p->top = BIO_push(ssl2, ssl1);
    r = BIO_do_handshake(ssl2);
    if (!PEER_CHECK(p, r == 1, "BIO_f_ssl layer 1 handshake: %d", r)
        || !exchange(p, ssl2, a) || !ssl_chain_close(p, ssl2))
        return 0;
    BIO_pop(ssl2);
    BIO_free(ssl2);
    p->top = ssl1;
    if (!exchange(p, ssl1, a) || !ssl_chain_close(p, ssl1))
        return 0;
    BIO_pop(ssl1);
    BIO_free(ssl1);
    p->top = p->sock;
    if (c)
        return peer_write_all(p, p->sock, "plain!", 6, 0);
    return peer_read_exact(p, p->sock, plain, 6, 0)
        && PEER_CHECK(p, memcmp(plain, "plain!", 6) == 0, "plaintext differs");
}

static void test_chain_interop_onion_client_ssl_chain_server(void)
{
    static const int layers[2] = { 0, 3 };
    CHAIN_ARG a;

    if (chain_arg_init(&a, 2, layers, 200000))
        RUN_PEERS(onion_interop_side, &a, ssl_chain_side, &a, PEERS_SERVER_RAW);
    chain_arg_cleanup(&a);
}

static void test_chain_interop_ssl_chain_client_onion_server(void)
{
    static const int layers[2] = { 1, 2 };
    CHAIN_ARG a;

    if (chain_arg_init(&a, 2, layers, 200000))
        RUN_PEERS(ssl_chain_side, &a, onion_interop_side, &a, PEERS_CLIENT_RAW);
    chain_arg_cleanup(&a);
}

static const size_t record_writes[] = { 1,     100,   1000,   16384, 16385,
                                        50000, 16362, 300000, 0 };

/*
 * The writer: its layers in one onion or in a chain of single-layer
 * onions, over a recording BIO; after the handshakes it writes the payload
 * in the given sizes and keeps the log of records it wrote.
 */
static int records_client(PEER *p)
{
    CHAIN_ARG *a = p->arg;
    BIO *rec = recbio_new();
    unsigned char ack;
    size_t off = 0;
    int i;

    if (!PEER_CHECK(p, rec != NULL, "recbio_new"))
        return 0;
    BIO_pop(p->onion);
    BIO_push(rec, p->sock);
    p->top = BIO_push(p->onion, rec);
    if (!PEER_CHECK(p, BIO_onion_set_flags(p->onion, a->flags) == 1,
                    "set_flags")
        || !peer_push_handshake(p, p->onion, a->ctxs.client[0], 1))
        return 0;
    for (i = 1; i < a->depth; i++) {
        if (a->mode == MODE_CHAINED) {
            BIO *on = BIO_new_onion();

            if (!PEER_CHECK(p, on != NULL, "BIO_new_onion"))
                return 0;
            p->top = BIO_push(on, p->top);
            if (!PEER_CHECK(p, BIO_onion_set_flags(on, a->flags) == 1,
                            "set_flags"))
                return 0;
        }
        if (!peer_push_handshake(p, p->top, a->ctxs.client[i], 1))
            return 0;
    }
    if (!PEER_CHECK(p, recbio_reset(rec),
                    "the handshakes left a partial record on the wire"))
        return 0;
    for (i = 0; a->writes[i] != 0; i++) {
        if (!peer_write_all(p, p->top, a->c2s.data + off, a->writes[i],
                            a->writes[i]))
            return 0;
        off += a->writes[i];
    }
    if (!PEER_CHECK(p, off == a->c2s.len, "payload size")
        || !peer_flush(p, p->top) || !peer_read_exact(p, p->top, &ack, 1, 0))
        return 0;
    return PEER_CHECK(p, recbio_copy_log(rec, RECBIO_WRITE, &a->log),
                      "recbio_copy_log");
}

static int records_server(PEER *p)
{
    CHAIN_ARG *a = p->arg;
    int i;

    for (i = 0; i < a->depth; i++)
        if (!peer_push_handshake(p, p->top, a->ctxs.server[i], 0))
            return 0;
    return peer_recv(p, p->top, &a->c2s, 0)
        && peer_write_all(p, p->top, "k", 1, 0);
}

static size_t total_writes(const size_t *w)
{
    size_t n = 0;

    while (*w != 0)
        n += *w++;
    return n;
}

/* Runs the record test for |mode|; the log is left in |a->log|. */
static int run_records(CHAIN_ARG *a, int depth, const int *layers, int mode,
                       unsigned int flags, const size_t *writes)
{
    if (!chain_arg_init(a, depth, layers, total_writes(writes)))
        return 0;
    a->mode = mode;
    a->flags = flags;
    a->writes = writes;
    return RUN_PEERS(records_client, a, records_server, a, 0);
}

static void compare_records(int depth, const int *layers)
{
    CHAIN_ARG one, chained;
    char why[256], fmt_one[2048], fmt_chained[2048];
    size_t i;

    memset(&one, 0, sizeof(one));
    memset(&chained, 0, sizeof(chained));
    if (!run_records(&one, depth, layers, MODE_ONE, 0, record_writes)
        || !run_records(&chained, depth, layers, MODE_CHAINED, 0,
                        record_writes))
        goto end;
    recbio_log_format(&one.log, fmt_one, sizeof(fmt_one));
    recbio_log_format(&chained.log, fmt_chained, sizeof(fmt_chained));
    if (!CHECK(one.log.n > 0, "no records logged"))
        goto end;
    for (i = 0; i < one.log.n; i++)
        if (!CHECK(one.log.rec[i].type == 23,
                   "record %zu after the handshakes has type %u: %s", i,
                   one.log.rec[i].type, fmt_one))
            goto end;
    CHECK(recbio_log_compare(&one.log, &chained.log, why, sizeof(why)),
          "one onion of %d layers and %d chained onions differ on the wire: "
          "%s\n  one:     %s\n  chained: %s",
          depth, depth, why, fmt_one, fmt_chained);
end:
    chain_arg_cleanup(&one);
    chain_arg_cleanup(&chained);
}

static void test_chain_records_chained_equals_multilayer_depth_2(void)
{
    static const int layers[2] = { 0, 2 };

    compare_records(2, layers);
}

static void test_chain_records_chained_equals_multilayer_depth_3(void)
{
    static const int layers[3] = { 0, 1, 3 };

    compare_records(3, layers);
}

/*
 * One 1 MiB write through two TLS 1.3 layers: every inner record fits in
 * one outer record, so there are about as many outer records as 16 KiB
 * pieces (65), not twice as many.  With BIO_ONION_NO_RECORD_FIT the
 * figure is printed for comparison.
 */
static void test_chain_records_inner_fit_outer(void)
{
    static const int layers[2] = { 0, 2 };
    static const size_t writes[] = { 1024 * 1024, 0 };
    CHAIN_ARG fit, nofit;
    char fmt[4096];
    size_t bound = (1024 * 1024) / (16384 - 256) + 2;

    memset(&fit, 0, sizeof(fit));
    memset(&nofit, 0, sizeof(nofit));
    if (!run_records(&fit, 2, layers, MODE_ONE, 0, writes))
        goto end;
    recbio_log_format(&fit.log, fmt, sizeof(fmt));
    CHECK(fit.log.n >= 64 && fit.log.n <= bound,
          "1 MiB through 2 layers took %zu outer records (expected 64 to "
          "%zu): inner records do not fit whole into outer records: %s",
          fit.log.n, bound, fmt);
    if (run_records(&nofit, 2, layers, MODE_ONE, BIO_ONION_NO_RECORD_FIT,
                    writes))
        printf("\n    (1 MiB through 2 layers: %zu outer records, %zu with "
               "BIO_ONION_NO_RECORD_FIT) ",
               fit.log.n, nofit.log.n);
end:
    chain_arg_cleanup(&fit);
    chain_arg_cleanup(&nofit);
}

int register_chain_suite(void)
{
    CU_pSuite s = CU_add_suite("chain", unit_suite_init, unit_suite_cleanup);

    return s != NULL
        && CU_add_test(s, "buffer_gets", test_chain_buffer_gets) != NULL
        && CU_add_test(s, "buffer_below_onion_blocking",
                       test_chain_buffer_below_onion_blocking)
        != NULL
        && CU_add_test(s, "onion_over_ssl_bio", test_chain_onion_over_ssl_bio)
        != NULL
        && CU_add_test(s, "interop_onion_client_ssl_chain_server",
                       test_chain_interop_onion_client_ssl_chain_server)
        != NULL
        && CU_add_test(s, "interop_ssl_chain_client_onion_server",
                       test_chain_interop_ssl_chain_client_onion_server)
        != NULL
        && CU_add_test(s, "records_chained_equals_multilayer_depth_2",
                       test_chain_records_chained_equals_multilayer_depth_2)
        != NULL
        && CU_add_test(s, "records_chained_equals_multilayer_depth_3",
                       test_chain_records_chained_equals_multilayer_depth_3)
        != NULL
        && CU_add_test(s, "records_inner_fit_outer",
                       test_chain_records_inner_fit_outer)
        != NULL;
}
