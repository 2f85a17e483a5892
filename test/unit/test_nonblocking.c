/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * Non-blocking: both onions in one thread over a BIO pair or a
 * non-blocking socketpair, with the fault BIO under each injecting random
 * retries and short (down to one-byte) reads and writes, application reads
 * and writes of random sizes or one byte, TLS 1.3 session tickets on,
 * depth 1 to 3, simultaneous traffic both ways, then every layer popped
 * (by either side or both) with traffic between the pops.  The pump fails a
 * deadlock after a step limit; every failure prints the seed.
 */

#include <string.h>

#include "unit.h"

#define NB_PAIR 0
#define NB_SOCKETPAIR 1
#define NB_MAX_OPS 64
#define NB_SEEDS 3

typedef struct nb_conf_st {
    int depth;
    int transport;
    size_t pair_size;
    unsigned int retry_permille;
    int short_mode;
    size_t chunk;
    size_t len;
    int implicit;   /* no handshake operations: data calls drive them */
    int key_update; /* key updates (not requested) between two transfers */
    int drain;      /* the server writes more, then pops at once */
    int tls13_only;
    const char *closes; /* per pop, innermost first: c(lient) s(erver) b(oth) */
} NB_CONF;

static const CERTS_TLS_OPTS tls13_opts[3] = {
    { TLS1_3_VERSION, TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", NULL,
      "nb0.onion.test", CERTS_LEAF_GOOD, 0, 0, 0 },
    { TLS1_3_VERSION, TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256", NULL,
      "nb1.onion.test", CERTS_LEAF_GOOD, 0, 0, 0 },
    { TLS1_3_VERSION, TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", NULL,
      "nb2.onion.test", CERTS_LEAF_GOOD, 0, 0, 0 },
};

typedef struct nb_ops_st {
    PUMP_OP op[NB_MAX_OPS];
    size_t n;
} NB_OPS;

static void add(NB_OPS *o, PUMP_OP_TYPE type, SSL_CTX *ctx, int client,
                const PAYLOAD *out, const PAYLOAD *in, size_t chunk, int depth)
{
    PUMP_OP *op;

    if (o->n >= NB_MAX_OPS)
        return;
    op = &o->op[o->n++];
    memset(op, 0, sizeof(*op));
    op->type = type;
    op->ctx = ctx;
    op->client = client;
    op->out = out;
    op->in = in;
    op->chunk = chunk;
    op->depth = depth;
}

/* PUMP_CALL: a key update (no update requested) on every TLS 1.3 layer. */
static int key_update_all(PUMP_SIDE *s, void *arg)
{
    int depth = BIO_onion_get_depth(s->bio);
    int i, updated = 0;

    (void)arg;
    for (i = 0; i < depth; i++) {
        SSL *ssl = NULL;

        if (BIO_onion_get_ssl(s->bio, i, &ssl) != 1)
            return tfail_set(&s->fail, __FILE__, __LINE__, "get_ssl(%d)", i)
                - 1;
        if (SSL_version(ssl) != TLS1_3_VERSION)
            continue;
        if (SSL_key_update(ssl, SSL_KEY_UPDATE_NOT_REQUESTED) != 1)
            return tfail_set(&s->fail, __FILE__, __LINE__,
                             "SSL_key_update on layer %d", i)
                - 1;
        updated++;
    }
    if (updated == 0)
        return tfail_set(&s->fail, __FILE__, __LINE__, "no TLS 1.3 layer") - 1;
    return 1;
}

typedef struct nb_data_st {
    PAYLOAD c2s, s2c, small_c2s, small_s2c, extra;
} NB_DATA;

/* The script of one side for |conf|. */
static void build_script(NB_OPS *o, const NB_CONF *conf, const UNIT_CTXS *ctxs,
                         const NB_DATA *d, int client)
{
    const PAYLOAD *out = client ? &d->c2s : &d->s2c;
    const PAYLOAD *in = client ? &d->s2c : &d->c2s;
    const PAYLOAD *sout = client ? &d->small_c2s : &d->small_s2c;
    const PAYLOAD *sin = client ? &d->small_s2c : &d->small_c2s;
    int i;

    o->n = 0;
    for (i = 0; i < conf->depth; i++) {
        add(o, PUMP_PUSH, client ? ctxs->client[i] : ctxs->server[i], client,
            NULL, NULL, 0, 0);
        if (!conf->implicit)
            add(o, PUMP_HANDSHAKE, NULL, 0, NULL, NULL, 0, 0);
    }
    add(o, PUMP_DEPTH, NULL, 0, NULL, NULL, 0, conf->depth);
    add(o, PUMP_XFER, NULL, 0, out, in, conf->chunk, 0);
    if (conf->key_update) {
        add(o, PUMP_CALL, NULL, 0, NULL, NULL, 0, 0);
        o->op[o->n - 1].call = key_update_all;
        add(o, PUMP_XFER, NULL, 0, out, in, conf->chunk, 0);
    }
    for (i = conf->depth - 1; i >= 0; i--) {
        char who = conf->closes[conf->depth - 1 - i];

        if (conf->drain && i == conf->depth - 1) {
            if (client) {
                add(o, PUMP_POP, NULL, 0, NULL, &d->extra, conf->chunk, 0);
            } else {
                add(o, PUMP_WRITE, NULL, 0, &d->extra, NULL, conf->chunk, 0);
                add(o, PUMP_POP, NULL, 0, NULL, NULL, 0, 0);
            }
        } else if (who == 'b' || (who == 'c') == client) {
            add(o, PUMP_POP, NULL, 0, NULL, NULL, 0, 0);
        } else {
            add(o, PUMP_READ_CLOSED, NULL, 0, NULL, NULL, 0, 0);
            add(o, PUMP_POP, NULL, 0, NULL, NULL, 0, 0);
        }
        add(o, PUMP_DEPTH, NULL, 0, NULL, NULL, 0, i);
        /* Traffic on what remains (plaintext at depth 0). */
        add(o, PUMP_XFER, NULL, 0, sout, sin, conf->chunk, 0);
    }
    add(o, PUMP_END, NULL, 0, NULL, NULL, 0, 0);
}

static int make_transport(const NB_CONF *conf, BIO **tc, BIO **ts)
{
    if (conf->transport == NB_SOCKETPAIR)
        return CHECK(pump_socketpair_new(tc, ts), "socketpair");
    return CHECK(pump_pair_new(tc, ts, conf->pair_size), "BIO pair");
}

static void run_nb_seed(const NB_CONF *conf, uint64_t seed)
{
    UNIT_CTXS ctxs;
    NB_DATA d;
    NB_OPS *oc = NULL, *os = NULL;
    FAULT_CONFIG fc;
    FAULT_STATS stc, sts;
    BIO *tc = NULL, *ts = NULL, *fcb = NULL, *fsb = NULL;
    BIO *onc = NULL, *ons = NULL;
    PUMP_SIDE sc, ss;
    int sides = 0;

    memset(&ctxs, 0, sizeof(ctxs));
    memset(&d, 0, sizeof(d));
    if (!unit_ctxs_new(&ctxs, conf->tls13_only ? tls13_opts : NULL, conf->depth)
        || !CHECK(payload_init(&d.c2s, conf->len, seed + 1)
                      && payload_init(&d.s2c, conf->len + 333, seed + 2)
                      && payload_init(&d.small_c2s, 3000, seed + 3)
                      && payload_init(&d.small_s2c, 2000, seed + 4)
                      && payload_init(&d.extra, 40000, seed + 5),
                  "payloads"))
        goto end;
    oc = OPENSSL_zalloc(sizeof(*oc));
    os = OPENSSL_zalloc(sizeof(*os));
    if (!CHECK(oc != NULL && os != NULL, "malloc")
        || !make_transport(conf, &tc, &ts))
        goto end;
    fault_config_default(&fc, seed);
    fc.read_retry_permille = fc.write_retry_permille = conf->retry_permille;
    fc.short_read = fc.short_write = conf->short_mode;
    fcb = fault_bio_new(&fc);
    fc.seed = seed ^ 0x5555555555555555ULL;
    fsb = fault_bio_new(&fc);
    onc = BIO_new_onion();
    ons = BIO_new_onion();
    if (!CHECK(fcb != NULL && fsb != NULL && onc != NULL && ons != NULL,
               "BIO allocation"))
        goto end;
    BIO_push(onc, BIO_push(fcb, tc));
    BIO_push(ons, BIO_push(fsb, ts));
    fcb = fsb = tc = ts = NULL; /* owned by the onions' chains now */
    build_script(oc, conf, &ctxs, &d, 1);
    build_script(os, conf, &ctxs, &d, 0);
    if (!CHECK(oc->n < NB_MAX_OPS && os->n < NB_MAX_OPS, "script too long"))
        goto end;
    if (!CHECK(pump_side_init(&sc, "client", onc, BIO_next(BIO_next(onc)),
                              oc->op, oc->n, seed * 3),
               "pump_side_init"))
        goto end;
    sides = 1;
    if (!CHECK(pump_side_init(&ss, "server", ons, BIO_next(BIO_next(ons)),
                              os->op, os->n, seed * 7),
               "pump_side_init"))
        goto end;
    sides = 2;
    if (!RUN_PUMP(&sc, &ss, seed))
        goto end;
    fault_bio_stats(BIO_next(onc), &stc);
    fault_bio_stats(BIO_next(ons), &sts);
    if (conf->retry_permille > 0)
        CHECK(stc.read_retries > 0 && stc.write_retries > 0
                  && sts.read_retries > 0 && sts.write_retries > 0,
              "seed %llu: the fault BIOs injected no retries (client %lu/%lu, "
              "server %lu/%lu): the test did not test them",
              (unsigned long long)seed, stc.read_retries, stc.write_retries,
              sts.read_retries, sts.write_retries);
end:
    if (sides >= 1)
        pump_side_cleanup(&sc);
    if (sides >= 2)
        pump_side_cleanup(&ss);
    BIO_free_all(onc);
    BIO_free_all(ons);
    BIO_free(fcb);
    BIO_free(fsb);
    BIO_free(tc);
    BIO_free(ts);
    OPENSSL_free(oc);
    OPENSSL_free(os);
    payload_free(&d.c2s);
    payload_free(&d.s2c);
    payload_free(&d.small_c2s);
    payload_free(&d.small_s2c);
    payload_free(&d.extra);
    unit_ctxs_free(&ctxs);
}

static void run_nb(const NB_CONF *conf, uint64_t base)
{
    uint64_t seed = test_seed(0);
    int i;

    if (seed != 0) {
        run_nb_seed(conf, seed);
        return;
    }
    for (i = 0; i < NB_SEEDS; i++)
        run_nb_seed(conf, base + (uint64_t)i);
}

static void test_nb_depth_1_pair(void)
{
    NB_CONF c = {
        .depth = 1,
        .transport = NB_PAIR,
        .retry_permille = 300,
        .short_mode = FAULT_SHORT_RANDOM,
        .chunk = PUMP_CHUNK_RANDOM,
        .len = 65536,
        .closes = "c",
    };

    run_nb(&c, 101);
}

static void test_nb_depth_2_pair(void)
{
    NB_CONF c = {
        .depth = 2,
        .transport = NB_PAIR,
        .retry_permille = 300,
        .short_mode = FAULT_SHORT_RANDOM,
        .chunk = PUMP_CHUNK_RANDOM,
        .len = 65536,
        .closes = "sc",
    };

    run_nb(&c, 201);
}

static void test_nb_depth_3_pair(void)
{
    NB_CONF c = {
        .depth = 3,
        .transport = NB_PAIR,
        .retry_permille = 300,
        .short_mode = FAULT_SHORT_RANDOM,
        .chunk = PUMP_CHUNK_RANDOM,
        .len = 65536,
        .closes = "bcs",
    };

    run_nb(&c, 301);
}

static void test_nb_depth_2_one_byte_io(void)
{
    NB_CONF c = {
        .depth = 2,
        .transport = NB_PAIR,
        .retry_permille = 200,
        .short_mode = FAULT_SHORT_ONE,
        .chunk = 1,
        .len = 2048,
        .closes = "cs",
    };

    run_nb(&c, 401);
}

static void test_nb_depth_3_one_byte_io(void)
{
    NB_CONF c = {
        .depth = 3,
        .transport = NB_PAIR,
        .retry_permille = 200,
        .short_mode = FAULT_SHORT_ONE,
        .chunk = 1,
        .len = 700,
        .closes = "bsc",
    };

    run_nb(&c, 451);
}

static void test_nb_depth_3_socketpair(void)
{
    NB_CONF c = {
        .depth = 3,
        .transport = NB_SOCKETPAIR,
        .retry_permille = 300,
        .short_mode = FAULT_SHORT_RANDOM,
        .chunk = PUMP_CHUNK_RANDOM,
        .len = 65536,
        .closes = "scb",
    };

    run_nb(&c, 501);
}

/*
 * A 512-byte BIO pair: the transport is often not writable when a server
 * layer must write its TLS 1.3 session tickets.
 */
static void test_nb_depth_3_small_pair_tickets(void)
{
    NB_CONF c = {
        .depth = 3,
        .transport = NB_PAIR,
        .pair_size = 512,
        .retry_permille = 300,
        .short_mode = FAULT_SHORT_RANDOM,
        .chunk = PUMP_CHUNK_RANDOM,
        .len = 65536,
        .tls13_only = 1,
        .closes = "bbb",
    };

    run_nb(&c, 601);
}

static void test_nb_depth_3_implicit_handshakes(void)
{
    NB_CONF c = {
        .depth = 3,
        .transport = NB_PAIR,
        .retry_permille = 300,
        .short_mode = FAULT_SHORT_RANDOM,
        .chunk = PUMP_CHUNK_RANDOM,
        .len = 32768,
        .implicit = 1,
        .closes = "ccc",
    };

    run_nb(&c, 701);
}

static void test_nb_depth_3_key_update(void)
{
    NB_CONF c = {
        .depth = 3,
        .transport = NB_PAIR,
        .retry_permille = 300,
        .short_mode = FAULT_SHORT_RANDOM,
        .chunk = PUMP_CHUNK_RANDOM,
        .len = 32768,
        .key_update = 1,
        .tls13_only = 1,
        .closes = "sss",
    };

    run_nb(&c, 801);
}

static void test_nb_depth_2_pop_drains_app_data(void)
{
    NB_CONF c = {
        .depth = 2,
        .transport = NB_PAIR,
        .retry_permille = 300,
        .short_mode = FAULT_SHORT_RANDOM,
        .chunk = PUMP_CHUNK_RANDOM,
        .len = 32768,
        .drain = 1,
        .closes = "cc",
    };

    run_nb(&c, 901);
}

static void test_nb_depth_2_no_faults(void)
{
    NB_CONF c = {
        .depth = 2,
        .transport = NB_PAIR,
        .retry_permille = 0,
        .short_mode = FAULT_SHORT_NONE,
        .chunk = PUMP_CHUNK_DEFAULT,
        .len = 262144,
        .closes = "cs",
    };

    run_nb(&c, 1001);
}

int register_nonblocking_suite(void)
{
    CU_pSuite s =
        CU_add_suite("nonblocking", unit_suite_init, unit_suite_cleanup);

    return s != NULL
        && CU_add_test(s, "depth_2_no_faults", test_nb_depth_2_no_faults)
        != NULL
        && CU_add_test(s, "depth_1_pair", test_nb_depth_1_pair) != NULL
        && CU_add_test(s, "depth_2_pair", test_nb_depth_2_pair) != NULL
        && CU_add_test(s, "depth_3_pair", test_nb_depth_3_pair) != NULL
        && CU_add_test(s, "depth_2_one_byte_io", test_nb_depth_2_one_byte_io)
        != NULL
        && CU_add_test(s, "depth_3_one_byte_io", test_nb_depth_3_one_byte_io)
        != NULL
        && CU_add_test(s, "depth_3_socketpair", test_nb_depth_3_socketpair)
        != NULL
        && CU_add_test(s, "depth_3_small_pair_tickets",
                       test_nb_depth_3_small_pair_tickets)
        != NULL
        && CU_add_test(s, "depth_3_implicit_handshakes",
                       test_nb_depth_3_implicit_handshakes)
        != NULL
        && CU_add_test(s, "depth_3_key_update", test_nb_depth_3_key_update)
        != NULL
        && CU_add_test(s, "depth_2_pop_drains_app_data",
                       test_nb_depth_2_pop_drains_app_data)
        != NULL;
}
