/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * Layers: depth 1 to 4 over a blocking socketpair, each layer with its own
 * certificate, host name, protocol version and cipher; payloads checked by
 * SHA-256 in both directions; then every layer popped and a plaintext
 * exchange at depth 0 shows nothing was left behind.
 */

#include <string.h>

#include "unit.h"

#define MIB (1024 * 1024)

typedef struct layers_arg_st {
    const UNIT_CTXS *ctxs;
    const CERTS_TLS_OPTS *opts; /* per layer, for the checks */
    int depth;
    int lazy;       /* push every layer, then one BIO_do_handshake */
    int implicit;   /* no BIO_do_handshake: data calls drive handshakes */
    int key_update; /* request a key update on every TLS 1.3 layer */
    const PAYLOAD *c2s, *s2c;
} LAYERS_ARG;

static const char *expected_cipher(const CERTS_TLS_OPTS *o)
{
    return o->max_version == TLS1_3_VERSION ? o->ciphersuites : o->cipher_list;
}

/* Checks every layer: version, cipher, and on the client the peer's name. */
static int check_layers(PEER *p, BIO *b, const LAYERS_ARG *a)
{
    char cn[256];
    int i;

    if (!PEER_CHECK(p, BIO_onion_get_depth(b) == a->depth, "depth %d of %d",
                    BIO_onion_get_depth(b), a->depth))
        return 0;
    for (i = 0; i < a->depth; i++) {
        const CERTS_TLS_OPTS *o = &a->opts[i];
        SSL *ssl = NULL;
        const char *cipher;

        if (!PEER_CHECK(p, BIO_onion_get_ssl(b, i, &ssl) == 1 && ssl != NULL,
                        "BIO_onion_get_ssl(%d)", i))
            return 0;
        cipher = SSL_get_cipher_name(ssl);
        if (!PEER_CHECK(p, SSL_is_init_finished(ssl),
                        "layer %d handshake not finished", i)
            || !PEER_CHECK(p, SSL_version(ssl) == o->max_version,
                           "layer %d: version %s", i, SSL_get_version(ssl))
            || !PEER_CHECK(
                p, cipher != NULL && strcmp(cipher, expected_cipher(o)) == 0,
                "layer %d: cipher %s, expected %s", i,
                cipher != NULL ? cipher : "(none)", expected_cipher(o)))
            return 0;
        if (p->is_client
            && (!PEER_CHECK(p, SSL_get_verify_result(ssl) == X509_V_OK,
                            "layer %d: verify result %ld", i,
                            SSL_get_verify_result(ssl))
                || !PEER_CHECK(p,
                               certs_peer_cn(ssl, cn, sizeof(cn))
                                   && strcmp(cn, o->host) == 0,
                               "layer %d: peer CN '%s', expected %s", i, cn,
                               o->host)))
            return 0;
    }
    return 1;
}

static int request_key_updates(PEER *p, BIO *b, int depth)
{
    int i;

    for (i = 0; i < depth; i++) {
        SSL *ssl = NULL;

        if (!PEER_CHECK(p, BIO_onion_get_ssl(b, i, &ssl) == 1, "get_ssl(%d)",
                        i))
            return 0;
        if (SSL_version(ssl) != TLS1_3_VERSION)
            continue;
        if (!PEER_CHECK(p, SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) == 1,
                        "SSL_key_update on layer %d", i))
            return 0;
    }
    return 1;
}

static int key_updates_sent(PEER *p, BIO *b, int depth)
{
    int i;

    for (i = 0; i < depth; i++) {
        SSL *ssl = NULL;

        if (!PEER_CHECK(p, BIO_onion_get_ssl(b, i, &ssl) == 1, "get_ssl(%d)",
                        i))
            return 0;
        if (!PEER_CHECK(p, SSL_get_key_update_type(ssl) == SSL_KEY_UPDATE_NONE,
                        "layer %d: key update still pending (%d)", i,
                        SSL_get_key_update_type(ssl)))
            return 0;
    }
    return 1;
}

static int layers_side(PEER *p)
{
    const LAYERS_ARG *a = p->arg;
    BIO *b = p->top;
    unsigned char bye[3];
    int i, ok = 0;

    for (i = 0; i < a->depth; i++) {
        SSL_CTX *ctx = p->is_client ? a->ctxs->client[i] : a->ctxs->server[i];

        if (!peer_push(p, b, ctx, p->is_client))
            goto end;
        if (!a->lazy && !a->implicit && !peer_handshake(p, b))
            goto end;
    }
    if (a->lazy && !peer_handshake(p, b))
        goto end;
    if (!a->implicit && !check_layers(p, b, a))
        goto end;
    if (a->key_update && !request_key_updates(p, b, a->depth))
        goto end;
    if (p->is_client) {
        if (!peer_send(p, b, a->c2s, 100000) || !peer_recv(p, b, a->s2c, 0))
            goto end;
    } else {
        if (!peer_recv(p, b, a->c2s, 0) || !peer_send(p, b, a->s2c, 77777))
            goto end;
    }
    if (a->implicit && !check_layers(p, b, a))
        goto end;
    /* The _ex forms through every layer. */
    if (p->is_client) {
        size_t w = 0;

        if (!PEER_CHECK(p, BIO_write_ex(b, "ex-form", 7, &w) == 1 && w == 7,
                        "BIO_write_ex wrote %zu", w))
            goto end;
    } else {
        unsigned char ex[7];
        size_t got = 0, n;

        while (got < sizeof(ex)) {
            if (!PEER_CHECK(p,
                            BIO_read_ex(b, ex + got, sizeof(ex) - got, &n) == 1,
                            "BIO_read_ex after %zu bytes", got))
                goto end;
            got += n;
        }
        if (!PEER_CHECK(p, memcmp(ex, "ex-form", 7) == 0,
                        "BIO_read_ex data differs"))
            goto end;
    }
    if (a->key_update && !key_updates_sent(p, b, a->depth))
        goto end;
    /* Close every layer, the client first, down to depth 0. */
    for (i = a->depth; i > 0; i--) {
        if (!p->is_client && !peer_expect_closed(p, b))
            goto end;
        if (!peer_pop(p, b))
            goto end;
    }
    if (p->is_client) {
        if (!peer_write_all(p, b, "bye", 3, 0))
            goto end;
    } else {
        if (!peer_read_exact(p, b, bye, 3, 0)
            || !PEER_CHECK(p, memcmp(bye, "bye", 3) == 0,
                           "plaintext after the last pop differs"))
            goto end;
    }
    ok = 1;
end:
    return ok;
}

static void run_layers(int depth, size_t len, int lazy, int implicit,
                       int key_update, const CERTS_TLS_OPTS *opts)
{
    CERTS_TLS_OPTS o[UNIT_MAX_LAYERS];
    UNIT_CTXS ctxs;
    PAYLOAD c2s, s2c;
    LAYERS_ARG a;
    int i;

    memset(&ctxs, 0, sizeof(ctxs));
    memset(&c2s, 0, sizeof(c2s));
    memset(&s2c, 0, sizeof(s2c));
    for (i = 0; i < depth; i++)
        o[i] = opts != NULL ? opts[i] : unit_layer_opts[i % 4];
    if (!unit_ctxs_new(&ctxs, o, depth)
        || !CHECK(payload_init(&c2s, len, 1000 + (uint64_t)depth)
                      && payload_init(&s2c, len, 2000 + (uint64_t)depth),
                  "payloads"))
        goto end;
    memset(&a, 0, sizeof(a));
    a.ctxs = &ctxs;
    a.opts = o;
    a.depth = depth;
    a.lazy = lazy;
    a.implicit = implicit;
    a.key_update = key_update;
    a.c2s = &c2s;
    a.s2c = &s2c;
    RUN_PEERS(layers_side, &a, layers_side, &a, 0);
end:
    payload_free(&c2s);
    payload_free(&s2c);
    unit_ctxs_free(&ctxs);
}

static void test_layers_depth_1(void)
{
    run_layers(1, MIB, 0, 0, 0, NULL);
}

static void test_layers_depth_2(void)
{
    run_layers(2, MIB, 0, 0, 0, NULL);
}

static void test_layers_depth_3(void)
{
    run_layers(3, MIB, 0, 0, 0, NULL);
}

static void test_layers_depth_4(void)
{
    run_layers(4, MIB, 0, 0, 0, NULL);
}

/* Reverse order of the standard layers: TLS 1.2 CBC outermost. */
static void test_layers_depth_4_reversed(void)
{
    CERTS_TLS_OPTS o[4];
    int i;

    for (i = 0; i < 4; i++)
        o[i] = unit_layer_opts[3 - i];
    run_layers(4, MIB / 4, 0, 0, 0, o);
}

static void test_layers_depth_4_one_handshake_call(void)
{
    run_layers(4, MIB / 4, 1, 0, 0, NULL);
}

static void test_layers_depth_3_implicit_handshakes(void)
{
    run_layers(3, MIB / 4, 0, 1, 0, NULL);
}

/*
 * A key update with update_requested on every layer, both sides: each
 * reader must answer from inside a read (an inner read whose outer layer
 * must write).
 */
static void test_layers_depth_3_key_update_requested(void)
{
    static const CERTS_TLS_OPTS o[3] = {
        { TLS1_3_VERSION, TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", NULL,
          "ku0.onion.test", CERTS_LEAF_GOOD, 0, 0, 0 },
        { TLS1_3_VERSION, TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256", NULL,
          "ku1.onion.test", CERTS_LEAF_GOOD, 0, 0, 0 },
        { TLS1_3_VERSION, TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", NULL,
          "ku2.onion.test", CERTS_LEAF_GOOD, 0, 0, 0 },
    };

    run_layers(3, MIB / 4, 0, 0, 1, o);
}

int register_layers_suite(void)
{
    CU_pSuite s = CU_add_suite("layers", unit_suite_init, unit_suite_cleanup);

    return s != NULL && CU_add_test(s, "depth_1", test_layers_depth_1) != NULL
        && CU_add_test(s, "depth_2", test_layers_depth_2) != NULL
        && CU_add_test(s, "depth_3", test_layers_depth_3) != NULL
        && CU_add_test(s, "depth_4", test_layers_depth_4) != NULL
        && CU_add_test(s, "depth_4_reversed", test_layers_depth_4_reversed)
        != NULL
        && CU_add_test(s, "depth_4_one_handshake_call",
                       test_layers_depth_4_one_handshake_call)
        != NULL
        && CU_add_test(s, "depth_3_implicit_handshakes",
                       test_layers_depth_3_implicit_handshakes)
        != NULL
        && CU_add_test(s, "depth_3_key_update_requested",
                       test_layers_depth_3_key_update_requested)
        != NULL;
}
