/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * Events and introspection: the callback reports HANDSHAKE_DONE,
 * PEER_CLOSED, POPPED and FAILED with the right layer indices and its
 * argument; a POPPED layer is still reachable from the callback; removing
 * the callback stops the events; BIO_onion_get_ssl with indices 0, -1, -2
 * (and BIO_get_ssl for the innermost layer).
 */

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "unit.h"

#define EV_MAX 64

typedef struct ev_st {
    int event;
    int layer;
    int ssl_ok; /* BIO_onion_get_ssl(layer) worked inside the callback */
} EV;

typedef struct ev_log_st {
    EV ev[EV_MAX];
    int n;
    int overflow;
    void *self; /* the argument the callback must receive */
    int bad_arg;
} EV_LOG;

typedef struct ev_arg_st {
    UNIT_CTXS ctxs;
    EV_LOG log[2]; /* client, server */
    PAYLOAD pl;
} EV_ARG;

static void record_cb(BIO *b, int event, int layer, void *arg)
{
    EV_LOG *log = arg;
    EV *e;

    if (log->self != log)
        log->bad_arg = 1;
    if (log->n >= EV_MAX) {
        log->overflow = 1;
        return;
    }
    e = &log->ev[log->n++];
    e->event = event;
    e->layer = layer;
    e->ssl_ok = -1;
    if (event == BIO_ONION_EV_POPPED || event == BIO_ONION_EV_HANDSHAKE_DONE) {
        SSL *ssl = NULL;

        e->ssl_ok = BIO_onion_get_ssl(b, layer, &ssl) == 1 && ssl != NULL;
        if (!e->ssl_ok)
            ERR_clear_error();
    }
}

static const char *ev_name(int event)
{
    switch (event) {
    case BIO_ONION_EV_HANDSHAKE_DONE:
        return "HANDSHAKE_DONE";
    case BIO_ONION_EV_PEER_CLOSED:
        return "PEER_CLOSED";
    case BIO_ONION_EV_POPPED:
        return "POPPED";
    case BIO_ONION_EV_FAILED:
        return "FAILED";
    }
    return "?";
}

static void format_log(const EV_LOG *log, char *buf, size_t len)
{
    size_t used = 0;
    int i;

    buf[0] = '\0';
    for (i = 0; i < log->n && used + 1 < len; i++) {
        int k = snprintf(buf + used, len - used, "%s%s(%d)", i ? " " : "",
                         ev_name(log->ev[i].event), log->ev[i].layer);

        if (k < 0)
            break;
        used += (size_t)k;
    }
}

/* An expected event; |optional| ones may be missing. */
typedef struct want_st {
    int event;
    int layer;
    int optional;
} WANT;

/*
 * check_log checks that |log| is exactly |want| in order, optional entries
 * allowed to be absent, and that POPPED and HANDSHAKE_DONE callbacks could
 * reach their layer.
 */
static void check_log(const char *who, const EV_LOG *log, const WANT *want,
                      int nwant)
{
    char got[1024];
    int i = 0, j = 0;

    format_log(log, got, sizeof(got));
    CHECK(!log->bad_arg, "%s: the callback received the wrong argument", who);
    CHECK(!log->overflow, "%s: too many events: %s", who, got);
    while (j < nwant) {
        if (i < log->n && log->ev[i].event == want[j].event
            && log->ev[i].layer == want[j].layer) {
            CHECK(log->ev[i].ssl_ok != 0,
                  "%s: in the %s(%d) callback BIO_onion_get_ssl(%d) failed",
                  who, ev_name(want[j].event), want[j].layer, want[j].layer);
            i++;
            j++;
        } else if (want[j].optional) {
            j++;
        } else {
            CHECK(0, "%s: expected %s(%d) as event %d; events: %s", who,
                  ev_name(want[j].event), want[j].layer, i, got);
            return;
        }
    }
    CHECK(i == log->n, "%s: unexpected events after %d; events: %s", who, i,
          got);
}

static int ev_arg_init(EV_ARG *a, int layers)
{
    memset(a, 0, sizeof(*a));
    a->log[0].self = &a->log[0];
    a->log[1].self = &a->log[1];
    return unit_ctxs_new(&a->ctxs, NULL, layers)
        && CHECK(payload_init(&a->pl, 10000, 97), "payload");
}

static void ev_arg_cleanup(EV_ARG *a)
{
    payload_free(&a->pl);
    unit_ctxs_free(&a->ctxs);
}

/*
 * Depth 3; the client closes layer 2, the server closes layer 1; then the
 * callback is removed and layer 0 closes without events.
 */
static int lifecycle_side(PEER *p)
{
    EV_ARG *a = p->arg;
    BIO *b = p->top;
    int c = p->is_client;
    int i;

    if (!PEER_CHECK(p,
                    BIO_onion_set_callback(b, record_cb, &a->log[p->idx]) == 1,
                    "set_callback"))
        return 0;
    for (i = 0; i < 3; i++)
        if (!peer_push_handshake(p, b,
                                 c ? a->ctxs.client[i] : a->ctxs.server[i], c))
            return 0;
    if (c) {
        if (!peer_send(p, b, &a->pl, 0) || !peer_pop(p, b)
            || !peer_expect_closed(p, b) || !peer_pop(p, b))
            return 0;
    } else {
        if (!peer_recv(p, b, &a->pl, 0) || !peer_expect_closed(p, b)
            || !peer_pop(p, b) || !peer_pop(p, b))
            return 0;
    }
    if (!PEER_CHECK(p, BIO_onion_set_callback(b, NULL, NULL) == 1,
                    "removing the callback"))
        return 0;
    if (!c && !peer_expect_closed(p, b))
        return 0;
    return peer_pop(p, b);
}

static void test_events_lifecycle(void)
{
    static const WANT client[] = {
        { BIO_ONION_EV_HANDSHAKE_DONE, 0, 0 },
        { BIO_ONION_EV_HANDSHAKE_DONE, 1, 0 },
        { BIO_ONION_EV_HANDSHAKE_DONE, 2, 0 },
        { BIO_ONION_EV_PEER_CLOSED, 2, 1 }, /* the answer to its own close */
        { BIO_ONION_EV_POPPED, 2, 0 },
        { BIO_ONION_EV_PEER_CLOSED, 1, 0 },
        { BIO_ONION_EV_POPPED, 1, 0 },
    };
    static const WANT server[] = {
        { BIO_ONION_EV_HANDSHAKE_DONE, 0, 0 },
        { BIO_ONION_EV_HANDSHAKE_DONE, 1, 0 },
        { BIO_ONION_EV_HANDSHAKE_DONE, 2, 0 },
        { BIO_ONION_EV_PEER_CLOSED, 2, 0 },
        { BIO_ONION_EV_POPPED, 2, 0 },
        { BIO_ONION_EV_PEER_CLOSED, 1, 1 },
        { BIO_ONION_EV_POPPED, 1, 0 },
    };
    EV_ARG a;

    if (ev_arg_init(&a, 3)
        && RUN_PEERS(lifecycle_side, &a, lifecycle_side, &a, 0)) {
        check_log("client", &a.log[0], client,
                  (int)(sizeof(client) / sizeof(client[0])));
        check_log("server", &a.log[1], server,
                  (int)(sizeof(server) / sizeof(server[0])));
    }
    ev_arg_cleanup(&a);
}

/* FAILED with the layer index when layer 1's verification fails. */
static int failed_side(PEER *p)
{
    EV_ARG *a = p->arg;
    BIO *b = p->top;
    int c = p->is_client;
    int r;

    if (!PEER_CHECK(p,
                    BIO_onion_set_callback(b, record_cb, &a->log[p->idx]) == 1,
                    "set_callback")
        || !peer_push_handshake(p, b, c ? a->ctxs.client[0] : a->ctxs.server[0],
                                c)
        || !peer_push(p, b, c ? a->ctxs.client[1] : a->ctxs.server[1], c))
        return 0;
    r = BIO_do_handshake(b);
    ERR_clear_error();
    if (!PEER_CHECK(p, r <= 0 && !BIO_should_retry(b),
                    "the handshake of layer 1 should fail: %d", r)
        || !PEER_CHECK(p, BIO_onion_set_callback(b, NULL, NULL) == 1,
                       "removing the callback"))
        return 0;
    return peer_sync(p);
}

static void test_events_failed(void)
{
    static const WANT want[] = {
        { BIO_ONION_EV_HANDSHAKE_DONE, 0, 0 },
        { BIO_ONION_EV_FAILED, 1, 0 },
    };
    CERTS_TLS_OPTS o;
    EV_ARG a;

    if (!ev_arg_init(&a, 2))
        goto end;
    /* Layer 1's server presents a certificate of an unknown CA. */
    o = unit_layer_opts[1];
    o.leaf_kind = CERTS_LEAF_FOREIGN;
    SSL_CTX_free(a.ctxs.server[1]);
    a.ctxs.server[1] = certs_server_ctx(&o);
    if (CHECK(a.ctxs.server[1] != NULL, "server context")
        && RUN_PEERS(failed_side, &a, failed_side, &a, 0)) {
        check_log("client", &a.log[0], want, 2);
        check_log("server", &a.log[1], want, 2);
    }
end:
    ev_arg_cleanup(&a);
}

/*
 * AUTO_POP raises POPPED for each layer the peer closed: the client closes
 * layer 1, sends the payload on layer 0, closes layer 0.
 */
static int auto_pop_client(PEER *p)
{
    EV_ARG *a = p->arg;
    BIO *b = p->top;

    return peer_push_handshake(p, b, a->ctxs.client[0], 1)
        && peer_push_handshake(p, b, a->ctxs.client[1], 1) && peer_pop(p, b)
        && peer_send(p, b, &a->pl, 0) && peer_pop(p, b);
}

static int auto_pop_server(PEER *p)
{
    EV_ARG *a = p->arg;
    BIO *b = p->top;
    unsigned char byte;
    int r;

    if (!PEER_CHECK(p, BIO_onion_set_callback(b, record_cb, &a->log[1]) == 1,
                    "set_callback")
        || !PEER_CHECK(p, BIO_onion_set_flags(b, BIO_ONION_AUTO_POP) == 1,
                       "set_flags")
        || !peer_push_handshake(p, b, a->ctxs.server[0], 0)
        || !peer_push_handshake(p, b, a->ctxs.server[1], 0)
        || !peer_recv(p, b, &a->pl, 0))
        return 0;
    /* After the payload the client pops layer 0: then the stream ends. */
    r = BIO_read(b, &byte, 1);
    return PEER_CHECK(p, r == 0 && BIO_onion_get_depth(b) == 0,
                      "read %d at depth %d after the last automatic pop", r,
                      BIO_onion_get_depth(b));
}

static void test_events_auto_pop(void)
{
    static const WANT server[] = {
        { BIO_ONION_EV_HANDSHAKE_DONE, 0, 0 },
        { BIO_ONION_EV_HANDSHAKE_DONE, 1, 0 },
        { BIO_ONION_EV_PEER_CLOSED, 1, 1 },
        { BIO_ONION_EV_POPPED, 1, 0 },
        { BIO_ONION_EV_PEER_CLOSED, 0, 1 },
        { BIO_ONION_EV_POPPED, 0, 0 },
    };
    EV_ARG a;

    if (ev_arg_init(&a, 2)
        && RUN_PEERS(auto_pop_client, &a, auto_pop_server, &a, 0))
        check_log("server", &a.log[1], server,
                  (int)(sizeof(server) / sizeof(server[0])));
    ev_arg_cleanup(&a);
}

/* Indices 0..2 and -1..-3 at depth 3, BIO_get_ssl, and after a pop. */
static void test_events_get_ssl_indices(void)
{
    UNIT_CTXS ctxs;
    BIO *c = NULL, *s = NULL;
    SSL *ssl;
    int i, r;

    if (!unit_ctxs_new(&ctxs, NULL, 3))
        return;
    if (!unit_pair_onions(&c, &s, &ctxs, 3))
        goto end;
    for (i = -3; i < 3; i++) {
        int layer = i < 0 ? 3 + i : i;

        ssl = NULL;
        r = BIO_onion_get_ssl(c, i, &ssl);
        CHECK(r == 1 && ssl != NULL
                  && SSL_get_SSL_CTX(ssl) == ctxs.client[layer],
              "get_ssl(%d) at depth 3 is not layer %d (returned %d)", i, layer,
              r);
    }
    ssl = NULL;
    CHECK(BIO_get_ssl(c, &ssl) > 0 && ssl != NULL
              && SSL_get_SSL_CTX(ssl) == ctxs.client[2],
          "BIO_get_ssl is not the innermost layer");
    ssl = (SSL *)&ssl;
    CHECK(BIO_onion_get_ssl(c, -4, &ssl) == 0 && ssl == NULL,
          "get_ssl(-4) at depth 3");
    ssl = (SSL *)&ssl;
    CHECK(BIO_onion_get_ssl(c, 3, &ssl) == 0 && ssl == NULL,
          "get_ssl(3) at depth 3");
    ERR_clear_error();
end:
    BIO_free_all(c);
    BIO_free_all(s);
    unit_ctxs_free(&ctxs);
}

int register_events_suite(void)
{
    CU_pSuite s = CU_add_suite("events", unit_suite_init, unit_suite_cleanup);

    return s != NULL
        && CU_add_test(s, "lifecycle", test_events_lifecycle) != NULL
        && CU_add_test(s, "failed", test_events_failed) != NULL
        && CU_add_test(s, "auto_pop", test_events_auto_pop) != NULL
        && CU_add_test(s, "get_ssl_indices", test_events_get_ssl_indices)
        != NULL;
}
