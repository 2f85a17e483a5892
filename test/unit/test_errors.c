/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * Errors: truncation (transport EOF without close_notify is an error of
 * the transport, -1; an inner layer ended by its outer layer's close_notify
 * is an error of the inner layer); garbage at each layer's handshake, in
 * both roles; corrupted records at layer 0 and layer 1; a transport that
 * fails under a write; certificate verification failures on an inner
 * layer.  Each failure is clean: no retry, the right
 * BIO_onion_get_error_layer, a bio_onion error naming the layer.
 */

#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>

#include "unit.h"

typedef struct err_arg_st {
    UNIT_CTXS ctxs;
    int layer; /* the layer under attack */
    int victim_is_server;
    long verify_code; /* expected verify result, verification tests */
} ERR_ARG;

/*
 * expect_failure checks that a call on |b| that returned |r| failed without
 * retry, that BIO_onion_get_error_layer names |layer| and that the queue
 * holds a bio_onion error (naming the layer when it is one).  Empties the
 * error queue.
 */
static int expect_failure(PEER *p, BIO *b, int r, int layer, const char *what)
{
    char st[256], sub[32], dump[4096];
    int el = BIO_onion_get_error_layer(b);
    int found;

    peer_io_state(b, r, st, sizeof(st));
    snprintf(sub, sizeof(sub), "layer %d", layer);
    found =
        test_onion_error_take(0, layer >= 0 ? sub : NULL, dump, sizeof(dump));
    return PEER_CHECK(p, r <= 0 && !BIO_should_retry(b),
                      "%s: expected a failure without retry: %s", what, st)
        && PEER_CHECK(p, el == layer, "%s: error layer %d, expected %d (%s)",
                      what, el, layer, st)
        && PEER_CHECK(p, found, "%s: no bio_onion error%s%s%s on the queue:%s",
                      what, layer >= 0 ? " naming \"" : "",
                      layer >= 0 ? sub : "", layer >= 0 ? "\"" : "", dump);
}

/* Puts |filter| between the onion and the socket of |p|. */
static void insert_under_onion(PEER *p, BIO *filter)
{
    BIO_pop(p->onion);
    BIO_push(filter, p->sock);
    p->top = BIO_push(p->onion, filter);
}

static int push_layers(PEER *p, BIO *b, const ERR_ARG *a, int n)
{
    int i;

    for (i = 0; i < n; i++)
        if (!peer_push_handshake(
                p, b, p->is_client ? a->ctxs.client[i] : a->ctxs.server[i],
                p->is_client))
            return 0;
    return 1;
}

static int err_arg_init(ERR_ARG *a, int layers)
{
    memset(a, 0, sizeof(*a));
    return unit_ctxs_new(&a->ctxs, NULL, layers);
}

/* Transport EOF without close_notify under |a->layer| + 1 layers. */
static int eof_client(PEER *p)
{
    ERR_ARG *a = p->arg;
    unsigned char buf[64];
    int r;

    if (!push_layers(p, p->top, a, a->layer + 1))
        return 0;
    r = BIO_read(p->top, buf, sizeof(buf));
    return expect_failure(p, p->top, r, BIO_ONION_ERROR_TRANSPORT,
                          "read at transport EOF")
        && PEER_CHECK(p, BIO_onion_peer_closed(p->top) == 0,
                      "a truncated layer reported as closed by the peer");
}

static int eof_server(PEER *p)
{
    ERR_ARG *a = p->arg;

    if (!push_layers(p, p->top, a, a->layer + 1))
        return 0;
    /* The connection ends without any close_notify. */
    shutdown(p->fd, SHUT_WR);
    return 1;
}

static void test_errors_truncation_transport_eof_depth_1(void)
{
    ERR_ARG a;

    if (err_arg_init(&a, 1))
        RUN_PEERS(eof_client, &a, eof_server, &a, 0);
    unit_ctxs_free(&a.ctxs);
}

static void test_errors_truncation_transport_eof_depth_3(void)
{
    ERR_ARG a;

    if (err_arg_init(&a, 3)) {
        a.layer = 2;
        RUN_PEERS(eof_client, &a, eof_server, &a, 0);
    }
    unit_ctxs_free(&a.ctxs);
}

/*
 * A plain BIO_f_ssl chain closes layer 0 cleanly while layer 1 is still
 * open: layer 1 is truncated inside a healthy layer 0.
 */
static int inner_trunc_server(PEER *p)
{
    ERR_ARG *a = p->arg;
    BIO *ssl1, *ssl2;
    SSL *s1 = NULL;
    int r;

    ssl1 = BIO_new_ssl(a->ctxs.server[0], 0);
    if (!PEER_CHECK(p, ssl1 != NULL, "BIO_new_ssl"))
        return 0;
    p->top = BIO_push(ssl1, p->sock);
    ssl2 = BIO_new_ssl(a->ctxs.server[1], 0);
    if (!PEER_CHECK(p, ssl2 != NULL, "BIO_new_ssl"))
        return 0;
    p->top = BIO_push(ssl2, ssl1);
    r = BIO_do_handshake(ssl1);
    if (!PEER_CHECK(p, r == 1, "layer 0 handshake %d", r))
        return 0;
    r = BIO_do_handshake(ssl2);
    if (!PEER_CHECK(p, r == 1, "layer 1 handshake %d", r))
        return 0;
    BIO_get_ssl(ssl1, &s1);
    r = SSL_shutdown(s1);
    return PEER_CHECK(p, r >= 0, "SSL_shutdown of layer 0: %d", r)
        && peer_sync(p);
}

static int inner_trunc_client(PEER *p)
{
    ERR_ARG *a = p->arg;
    unsigned char buf[64];
    int r;

    if (!push_layers(p, p->top, a, 2))
        return 0;
    r = BIO_read(p->top, buf, sizeof(buf));
    return expect_failure(p, p->top, r, 1,
                          "read when layer 0 closes under layer 1")
        && PEER_CHECK(p, BIO_onion_peer_closed(p->top) == 0,
                      "the truncated inner layer reported as closed")
        && peer_sync(p);
}

static void test_errors_truncation_inner_layer(void)
{
    ERR_ARG a;

    if (err_arg_init(&a, 2))
        RUN_PEERS(inner_trunc_client, &a, inner_trunc_server, &a,
                  PEERS_SERVER_RAW);
    unit_ctxs_free(&a.ctxs);
}

/*
 * Garbage at layer k's handshake: the attacker runs k good layers, then
 * sends garbage where the victim's layer k expects its peer's first
 * handshake flight.
 */
static const char http_garbage[] = "GET / HTTP/1.0\r\nHost: x\r\n\r\n";
/* A handshake record holding a ServerHello of 4 bytes of nonsense. */
static const unsigned char hello_garbage[] = { 0x16, 0x03, 0x03, 0x00, 0x08,
                                               0x02, 0x00, 0x00, 0x04, 0xde,
                                               0xad, 0xbe, 0xef };

static int garbage_attacker(PEER *p)
{
    ERR_ARG *a = p->arg;
    BIO *b = p->top;
    unsigned char buf[4096];
    int n;

    if (!push_layers(p, b, a, a->layer))
        return 0;
    if (a->victim_is_server) {
        if (!peer_write_all(p, b, http_garbage, sizeof(http_garbage) - 1, 0))
            return 0;
    } else {
        /* Take the victim's ClientHello, answer with garbage. */
        n = BIO_read(b, buf, sizeof(buf));
        if (!PEER_CHECK(p, n > 0 && buf[0] == 0x16,
                        "expected the victim's ClientHello, read %d", n)
            || !peer_write_all(p, b, hello_garbage, sizeof(hello_garbage), 0))
            return 0;
    }
    return peer_flush(p, b) && peer_sync(p);
}

static int garbage_victim(PEER *p)
{
    ERR_ARG *a = p->arg;
    BIO *b = p->top;
    unsigned char buf[16];
    char what[64];
    int k = a->layer;
    int r;

    if (!push_layers(p, b, a, k)
        || !peer_push(p, b,
                      p->is_client ? a->ctxs.client[k] : a->ctxs.server[k],
                      p->is_client))
        return 0;
    snprintf(what, sizeof(what), "handshake of layer %d on garbage", k);
    r = BIO_do_handshake(b);
    if (!expect_failure(p, b, r, k, what)
        || !PEER_CHECK(p, BIO_onion_get_depth(b) == k + 1,
                       "the failed layer must stay: depth %d",
                       BIO_onion_get_depth(b)))
        return 0;
    /* Further I/O reports the failure again. */
    r = BIO_read(b, buf, sizeof(buf));
    if (!expect_failure(p, b, r, k, "read after the failed handshake"))
        return 0;
    r = BIO_onion_pop(b);
    if (!PEER_CHECK(p, r == 0 && BIO_onion_get_depth(b) == k,
                    "pop of the failed layer returned %d, depth %d", r,
                    BIO_onion_get_depth(b))
        || !PEER_CHECK(p,
                       test_onion_error_take(BIO_ONION_R_LAYER_DISCARDED, NULL,
                                             what, sizeof(what)),
                       "no BIO_ONION_R_LAYER_DISCARDED after discarding a "
                       "failed layer"))
        return 0;
    return peer_sync(p);
}

static void run_garbage(int victim_is_server)
{
    ERR_ARG a;
    int k;

    if (!err_arg_init(&a, 3))
        return;
    a.victim_is_server = victim_is_server;
    for (k = 0; k < 3; k++) {
        a.layer = k;
        if (victim_is_server) {
            if (!RUN_PEERS(garbage_attacker, &a, garbage_victim, &a, 0))
                printf("\n    (garbage at layer %d, victim server) ", k);
        } else {
            if (!RUN_PEERS(garbage_victim, &a, garbage_attacker, &a, 0))
                printf("\n    (garbage at layer %d, victim client) ", k);
        }
    }
    unit_ctxs_free(&a.ctxs);
}

static void test_errors_garbage_each_layer_victim_server(void)
{
    run_garbage(1);
}

static void test_errors_garbage_each_layer_victim_client(void)
{
    run_garbage(0);
}

/*
 * A byte of the first record after the handshakes is corrupted on the
 * wire: layer 0 fails (bad record MAC), not the transport.
 */
static int corrupt0_client(PEER *p)
{
    ERR_ARG *a = p->arg;
    FAULT_CONFIG fc;
    FAULT_STATS st;
    BIO *f;
    unsigned char buf[64];
    int r;

    fault_config_default(&fc, 1);
    f = fault_bio_new(&fc);
    if (!PEER_CHECK(p, f != NULL, "fault_bio_new"))
        return 0;
    insert_under_onion(p, f);
    if (!push_layers(p, p->top, a, 2) || !fault_bio_stats(f, &st)
        || !fault_bio_set_offsets(f, FAULT_OFF, FAULT_OFF,
                                  (long)st.bytes_read + 10, FAULT_OFF)
        || !peer_sync(p))
        return 0;
    r = BIO_read(p->top, buf, sizeof(buf));
    return expect_failure(p, p->top, r, 0, "read of a corrupted record")
        && fault_bio_stats(f, &st)
        && PEER_CHECK(p, st.corrupted_read, "nothing was corrupted")
        && peer_sync(p);
}

static int corrupt0_server(PEER *p)
{
    ERR_ARG *a = p->arg;

    return push_layers(p, p->top, a, 2) && peer_sync(p)
        && peer_write_all(p, p->top, "some application data", 21, 0)
        && peer_sync(p);
}

static void test_errors_corrupt_record_layer_0(void)
{
    ERR_ARG a;

    if (err_arg_init(&a, 2))
        RUN_PEERS(corrupt0_client, &a, corrupt0_server, &a, 0);
    unit_ctxs_free(&a.ctxs);
}

/*
 * A BIO_f_ssl chain server with a fault BIO between its two layers
 * corrupts an inner record before the outer layer encrypts it: layer 1
 * fails, layer 0 is healthy.
 */
static int corrupt1_server(PEER *p)
{
    ERR_ARG *a = p->arg;
    BIO *ssl1, *ssl2, *f;
    FAULT_CONFIG fc;
    FAULT_STATS st;
    int r;

    ssl1 = BIO_new_ssl(a->ctxs.server[0], 0);
    if (!PEER_CHECK(p, ssl1 != NULL, "BIO_new_ssl"))
        return 0;
    p->top = BIO_push(ssl1, p->sock);
    fault_config_default(&fc, 2);
    f = fault_bio_new(&fc);
    if (!PEER_CHECK(p, f != NULL, "fault_bio_new"))
        return 0;
    p->top = BIO_push(f, p->top);
    ssl2 = BIO_new_ssl(a->ctxs.server[1], 0);
    if (!PEER_CHECK(p, ssl2 != NULL, "BIO_new_ssl"))
        return 0;
    p->top = BIO_push(ssl2, f);
    r = BIO_do_handshake(ssl1);
    if (!PEER_CHECK(p, r == 1, "layer 0 handshake %d", r))
        return 0;
    r = BIO_do_handshake(ssl2);
    if (!PEER_CHECK(p, r == 1, "layer 1 handshake %d", r)
        || !fault_bio_stats(f, &st)
        || !fault_bio_set_offsets(f, FAULT_OFF, FAULT_OFF, FAULT_OFF,
                                  (long)st.bytes_written + 10))
        return 0;
    return peer_write_all(p, ssl2, "some application data", 21, 0)
        && fault_bio_stats(f, &st)
        && PEER_CHECK(p, st.corrupted_write, "nothing was corrupted")
        && peer_sync(p);
}

static int corrupt1_client(PEER *p)
{
    ERR_ARG *a = p->arg;
    unsigned char buf[64];
    int r;

    if (!push_layers(p, p->top, a, 2))
        return 0;
    r = BIO_read(p->top, buf, sizeof(buf));
    return expect_failure(p, p->top, r, 1, "read of a corrupted inner record")
        && peer_sync(p);
}

static void test_errors_corrupt_record_layer_1(void)
{
    ERR_ARG a;

    if (err_arg_init(&a, 2))
        RUN_PEERS(corrupt1_client, &a, corrupt1_server, &a, PEERS_SERVER_RAW);
    unit_ctxs_free(&a.ctxs);
}

/* The transport fails (without retry) under a write at depth 2. */
static int write_fail_client(PEER *p)
{
    ERR_ARG *a = p->arg;
    FAULT_CONFIG fc;
    FAULT_STATS st;
    PAYLOAD pl;
    BIO *f;
    int r, ok = 0;

    memset(&pl, 0, sizeof(pl));
    fault_config_default(&fc, 3);
    f = fault_bio_new(&fc);
    if (!PEER_CHECK(p, f != NULL, "fault_bio_new"))
        return 0;
    insert_under_onion(p, f);
    if (!PEER_CHECK(p, payload_init(&pl, 100000, 5), "payload")
        || !push_layers(p, p->top, a, 2) || !fault_bio_stats(f, &st)
        || !fault_bio_set_offsets(f, FAULT_OFF, (long)st.bytes_written + 3000,
                                  FAULT_OFF, FAULT_OFF))
        goto end;
    r = BIO_write(p->top, pl.data, (int)pl.len);
    ok = expect_failure(p, p->top, r, BIO_ONION_ERROR_TRANSPORT,
                        "write when the transport fails")
        && peer_sync(p);
end:
    payload_free(&pl);
    return ok;
}

static int write_fail_server(PEER *p)
{
    ERR_ARG *a = p->arg;

    return push_layers(p, p->top, a, 2) && peer_sync(p);
}

static void test_errors_transport_write_failure(void)
{
    ERR_ARG a;

    if (err_arg_init(&a, 2))
        RUN_PEERS(write_fail_client, &a, write_fail_server, &a, 0);
    unit_ctxs_free(&a.ctxs);
}

/*
 * Verification failure on layer 1 while layer 0 is valid: the client's
 * handshake fails naming layer 1, the layer stays for inspection (its
 * verify result), a push onto it fails, a pop discards it; the server's
 * handshake fails on layer 1 too (the client's alert).
 */
static int verify_client(PEER *p)
{
    ERR_ARG *a = p->arg;
    BIO *b = p->top;
    SSL *ssl0 = NULL, *ssl1 = NULL, *extra = NULL;
    char dump[2048];
    int r, ok = 0;

    if (!push_layers(p, b, a, 1) || !peer_push(p, b, a->ctxs.client[1], 1))
        goto end;
    r = BIO_do_handshake(b);
    if (!expect_failure(p, b, r, 1, "handshake of layer 1")
        || !PEER_CHECK(p, BIO_onion_get_depth(b) == 2,
                       "the failed layer must stay: depth %d",
                       BIO_onion_get_depth(b))
        || !PEER_CHECK(p,
                       BIO_onion_get_ssl(b, 0, &ssl0) == 1
                           && BIO_onion_get_ssl(b, 1, &ssl1) == 1,
                       "get_ssl")
        || !PEER_CHECK(
            p, SSL_get_verify_result(ssl1) == a->verify_code,
            "layer 1 verify result %ld (%s), expected %ld",
            SSL_get_verify_result(ssl1),
            X509_verify_cert_error_string(SSL_get_verify_result(ssl1)),
            a->verify_code)
        || !PEER_CHECK(p, SSL_get_verify_result(ssl0) == X509_V_OK,
                       "layer 0 verify result %ld",
                       SSL_get_verify_result(ssl0)))
        goto end;
    extra = SSL_new(a->ctxs.client[0]);
    if (!PEER_CHECK(p, extra != NULL, "SSL_new"))
        goto end;
    r = BIO_onion_push_ssl(b, extra);
    if (!PEER_CHECK(p, r <= 0, "push onto a failed layer returned %d", r)
        || !PEER_CHECK(p,
                       test_onion_error_take(BIO_ONION_R_LAYER_FAILED, NULL,
                                             dump, sizeof(dump)),
                       "push onto a failed layer: no "
                       "BIO_ONION_R_LAYER_FAILED:%s",
                       dump)
        || !PEER_CHECK(
            p, SSL_get_rbio(extra) == NULL && SSL_get_wbio(extra) == NULL,
            "a failed push changed the caller's SSL"))
        goto end;
    r = BIO_onion_pop(b);
    if (!PEER_CHECK(p, r == 0 && BIO_onion_get_depth(b) == 1,
                    "pop of the failed layer returned %d, depth %d", r,
                    BIO_onion_get_depth(b))
        || !PEER_CHECK(p,
                       test_onion_error_take(BIO_ONION_R_LAYER_DISCARDED, NULL,
                                             dump, sizeof(dump)),
                       "no BIO_ONION_R_LAYER_DISCARDED:%s", dump))
        goto end;
    ok = peer_sync(p);
end:
    SSL_free(extra);
    return ok;
}

static int verify_server(PEER *p)
{
    ERR_ARG *a = p->arg;
    BIO *b = p->top;
    int r;

    if (!push_layers(p, b, a, 1) || !peer_push(p, b, a->ctxs.server[1], 0))
        return 0;
    r = BIO_do_handshake(b);
    return expect_failure(p, b, r, 1, "server handshake of layer 1")
        && peer_sync(p);
}

static void run_verify(int kind, const char *server_host, long code)
{
    CERTS_TLS_OPTS o;
    ERR_ARG a;

    memset(&a, 0, sizeof(a));
    if (!unit_ctxs_new(&a.ctxs, NULL, 2))
        return;
    /* Layer 1: the client expects layer1.onion.test. */
    o = unit_layer_opts[2];
    o.host = server_host;
    o.leaf_kind = kind;
    SSL_CTX_free(a.ctxs.server[1]);
    a.ctxs.server[1] = certs_server_ctx(&o);
    if (CHECK(a.ctxs.server[1] != NULL, "server context")) {
        o = unit_layer_opts[2];
        o.host = "layer1.onion.test";
        SSL_CTX_free(a.ctxs.client[1]);
        a.ctxs.client[1] = certs_client_ctx(&o);
        a.verify_code = code;
        if (CHECK(a.ctxs.client[1] != NULL, "client context"))
            RUN_PEERS(verify_client, &a, verify_server, &a, 0);
    }
    unit_ctxs_free(&a.ctxs);
}

static void test_errors_verify_inner_unknown_ca(void)
{
    run_verify(CERTS_LEAF_FOREIGN, "layer1.onion.test",
               X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

static void test_errors_verify_inner_expired(void)
{
    run_verify(CERTS_LEAF_EXPIRED, "layer1.onion.test",
               X509_V_ERR_CERT_HAS_EXPIRED);
}

static void test_errors_verify_inner_wrong_host(void)
{
    run_verify(CERTS_LEAF_GOOD, "elsewhere.onion.test",
               X509_V_ERR_HOSTNAME_MISMATCH);
}

int register_errors_suite(void)
{
    CU_pSuite s = CU_add_suite("errors", unit_suite_init, unit_suite_cleanup);

    return s != NULL
        && CU_add_test(s, "truncation_transport_eof_depth_1",
                       test_errors_truncation_transport_eof_depth_1)
        != NULL
        && CU_add_test(s, "truncation_transport_eof_depth_3",
                       test_errors_truncation_transport_eof_depth_3)
        != NULL
        && CU_add_test(s, "truncation_inner_layer",
                       test_errors_truncation_inner_layer)
        != NULL
        && CU_add_test(s, "garbage_each_layer_victim_server",
                       test_errors_garbage_each_layer_victim_server)
        != NULL
        && CU_add_test(s, "garbage_each_layer_victim_client",
                       test_errors_garbage_each_layer_victim_client)
        != NULL
        && CU_add_test(s, "corrupt_record_layer_0",
                       test_errors_corrupt_record_layer_0)
        != NULL
        && CU_add_test(s, "corrupt_record_layer_1",
                       test_errors_corrupt_record_layer_1)
        != NULL
        && CU_add_test(s, "transport_write_failure",
                       test_errors_transport_write_failure)
        != NULL
        && CU_add_test(s, "verify_inner_unknown_ca",
                       test_errors_verify_inner_unknown_ca)
        != NULL
        && CU_add_test(s, "verify_inner_expired",
                       test_errors_verify_inner_expired)
        != NULL
        && CU_add_test(s, "verify_inner_wrong_host",
                       test_errors_verify_inner_wrong_host)
        != NULL;
}
