/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * Pop: the clean close of the innermost layer started by the client, by
 * the server, by both at once; traffic on the remaining layers afterwards,
 * then a new push; data the peer sent just before its close_notify is
 * delivered (read before the pop, or drained when the pop asks for it);
 * BIO_onion_peer_closed; BIO_ONION_AUTO_POP.
 */

#include <string.h>

#include "unit.h"

/* Who starts each close. */
#define BY_CLIENT 0
#define BY_SERVER 1
#define BY_BOTH 2

typedef struct pop_arg_st {
    UNIT_CTXS ctxs;
    PAYLOAD small_c2s, small_s2c, big;
    int who;
} POP_ARG;

static int exchange(PEER *p, BIO *b, const POP_ARG *a)
{
    if (p->is_client)
        return peer_send(p, b, &a->small_c2s, 0)
            && peer_recv(p, b, &a->small_s2c, 0);
    return peer_recv(p, b, &a->small_c2s, 0)
        && peer_send(p, b, &a->small_s2c, 0);
}

/* Closes the innermost layer; |who| says which side starts. */
static int close_layer(PEER *p, BIO *b, int who)
{
    int initiator = who == BY_BOTH || (who == BY_CLIENT) == p->is_client;

    /* Both pops start together (the rendezvous fails if the peer died). */
    if (who == BY_BOTH && !peer_sync(p))
        return 0;
    if (!initiator && !peer_expect_closed(p, b))
        return 0;
    return peer_pop(p, b);
}

static int plain_check(PEER *p, BIO *b)
{
    unsigned char buf[5];

    if (p->is_client)
        return peer_write_all(p, b, "plain", 5, 0);
    return peer_read_exact(p, b, buf, 5, 0)
        && PEER_CHECK(p, memcmp(buf, "plain", 5) == 0,
                      "plaintext at depth 0 differs");
}

/*
 * depth 2 -> close layer 1 -> traffic on layer 0 -> push a new layer 1
 * (other parameters) -> traffic -> close both -> plaintext at depth 0.
 */
static int pop_side(PEER *p)
{
    POP_ARG *a = p->arg;
    BIO *b = p->top;
    int c = p->is_client;

    return peer_push_handshake(p, b, c ? a->ctxs.client[0] : a->ctxs.server[0],
                               c)
        && peer_push_handshake(p, b, c ? a->ctxs.client[1] : a->ctxs.server[1],
                               c)
        && exchange(p, b, a) && close_layer(p, b, a->who)
        && PEER_CHECK(p, BIO_onion_get_depth(b) == 1, "depth %d",
                      BIO_onion_get_depth(b))
        && PEER_CHECK(p, BIO_onion_peer_closed(b) == 0,
                      "peer_closed still set after the pop")
        && exchange(p, b, a)
        && peer_push_handshake(p, b, c ? a->ctxs.client[2] : a->ctxs.server[2],
                               c)
        && exchange(p, b, a) && close_layer(p, b, a->who) && exchange(p, b, a)
        && close_layer(p, b, a->who)
        && PEER_CHECK(p, BIO_onion_get_depth(b) == 0, "depth %d",
                      BIO_onion_get_depth(b))
        && plain_check(p, b);
}

static int pop_arg_init(POP_ARG *a, int who)
{
    memset(a, 0, sizeof(*a));
    a->who = who;
    if (!unit_ctxs_new(&a->ctxs, NULL, 3)
        || !CHECK(payload_init(&a->small_c2s, 20000, 41)
                      && payload_init(&a->small_s2c, 30000, 42)
                      && payload_init(&a->big, 262144, 43),
                  "payloads"))
        return 0;
    return 1;
}

static void pop_arg_cleanup(POP_ARG *a)
{
    payload_free(&a->small_c2s);
    payload_free(&a->small_s2c);
    payload_free(&a->big);
    unit_ctxs_free(&a->ctxs);
}

static void run_pop(PEER_FN fn, int who)
{
    POP_ARG a;

    if (pop_arg_init(&a, who))
        RUN_PEERS(fn, &a, fn, &a, 0);
    pop_arg_cleanup(&a);
}

static void test_pop_by_client(void)
{
    run_pop(pop_side, BY_CLIENT);
}

static void test_pop_by_server(void)
{
    run_pop(pop_side, BY_SERVER);
}

static void test_pop_by_both_at_once(void)
{
    run_pop(pop_side, BY_BOTH);
}

/*
 * The server writes a big payload and pops at once.  The client reads the
 * payload, sees the close (read 0, peer_closed 1; a second read says the
 * same), then pops.
 */
static int data_before_close_side(PEER *p)
{
    POP_ARG *a = p->arg;
    BIO *b = p->top;
    int c = p->is_client;
    int ok;

    ok = peer_push_handshake(p, b, c ? a->ctxs.client[0] : a->ctxs.server[0], c)
        && peer_push_handshake(p, b, c ? a->ctxs.client[1] : a->ctxs.server[1],
                               c);
    if (!ok)
        return 0;
    if (!c)
        return peer_send(p, b, &a->big, 0) && peer_pop(p, b)
            && exchange(p, b, a);
    return peer_recv(p, b, &a->big, 0) && peer_expect_closed(p, b)
        && PEER_CHECK(p, BIO_onion_get_depth(b) == 2,
                      "the closed layer must stay until popped (depth %d)",
                      BIO_onion_get_depth(b))
        && peer_expect_closed(p, b) && peer_pop(p, b)
        && PEER_CHECK(p, BIO_onion_peer_closed(b) == 0, "peer_closed after pop")
        && exchange(p, b, a);
}

static void test_pop_data_before_close_notify(void)
{
    run_pop(data_before_close_side, BY_SERVER);
}

/*
 * The server writes a big payload and pops; the client pops at once,
 * without reading: the pop must ask it to read (BIO_should_read, reason
 * BIO_ONION_RR_APP_DATA), the reads deliver every byte and end with 0, and
 * the next pop completes.
 */
static int drain_side(PEER *p)
{
    POP_ARG *a = p->arg;
    BIO *b = p->top;
    unsigned char *got = NULL;
    size_t off = 0;
    char st[256], why[512];
    int c = p->is_client;
    int r, ok = 0;

    if (!peer_push_handshake(p, b, c ? a->ctxs.client[0] : a->ctxs.server[0], c)
        || !peer_push_handshake(p, b, c ? a->ctxs.client[1] : a->ctxs.server[1],
                                c))
        goto end;
    if (!c) {
        ok = peer_send(p, b, &a->big, 0) && peer_pop(p, b) && exchange(p, b, a);
        goto end;
    }
    r = BIO_onion_pop(b);
    peer_io_state(b, r, st, sizeof(st));
    if (!PEER_CHECK(p,
                    r <= 0 && BIO_should_retry(b) && BIO_should_read(b)
                        && BIO_get_retry_reason(b) == BIO_ONION_RR_APP_DATA,
                    "pop with unread data from the peer: %s", st))
        goto end;
    got = OPENSSL_malloc(a->big.len + 1);
    if (!PEER_CHECK(p, got != NULL, "malloc"))
        goto end;
    for (;;) {
        r = BIO_read(b, got + off, (int)(a->big.len + 1 - off));
        if (r == 0)
            break;
        peer_io_state(b, r, st, sizeof(st));
        if (!PEER_CHECK(p, r > 0, "draining read after %zu bytes: %s", off, st))
            goto end;
        off += (size_t)r;
        if (!PEER_CHECK(p, off <= a->big.len, "more data than was sent"))
            goto end;
    }
    if (!PEER_CHECK(p, payload_check(&a->big, got, off, why, sizeof(why)), "%s",
                    why)
        || !PEER_CHECK(p, BIO_onion_peer_closed(b) == 1,
                       "peer_closed after the last read"))
        goto end;
    ok = peer_pop(p, b) && exchange(p, b, a);
end:
    OPENSSL_free(got);
    return ok;
}

static void test_pop_drains_app_data(void)
{
    run_pop(drain_side, BY_SERVER);
}

/*
 * BIO_onion_peer_closed without AUTO_POP: reads return 0 and say why until
 * the application pops; the layer and the connection stay.
 */
static int peer_closed_side(PEER *p)
{
    POP_ARG *a = p->arg;
    BIO *b = p->top;
    int c = p->is_client;
    int i;

    if (!peer_push_handshake(p, b, c ? a->ctxs.client[0] : a->ctxs.server[0], c)
        || !PEER_CHECK(p, BIO_onion_peer_closed(b) == 0,
                       "peer_closed on a fresh layer"))
        return 0;
    if (c)
        return peer_pop(p, b) && plain_check(p, b);
    for (i = 0; i < 3; i++)
        if (!peer_expect_closed(p, b)
            || !PEER_CHECK(p, BIO_onion_get_depth(b) == 1, "depth %d",
                           BIO_onion_get_depth(b)))
            return 0;
    return peer_pop(p, b)
        && PEER_CHECK(p, BIO_onion_peer_closed(b) == 0, "peer_closed after pop")
        && plain_check(p, b);
}

static void test_pop_peer_closed_stays(void)
{
    run_pop(peer_closed_side, BY_CLIENT);
}

/*
 * AUTO_POP on the server: the client writes A on layer 1, pops it, writes
 * B on layer 0, pops it, writes C in plaintext.  The server reads A|B|C as
 * one stream, ending at depth 0.
 */
static int auto_pop_client(PEER *p)
{
    POP_ARG *a = p->arg;
    BIO *b = p->top;
    size_t third = a->big.len / 3;

    return peer_push_handshake(p, b, a->ctxs.client[0], 1)
        && peer_push_handshake(p, b, a->ctxs.client[1], 1)
        && peer_write_all(p, b, a->big.data, third, 0) && peer_pop(p, b)
        && peer_write_all(p, b, a->big.data + third, third, 0) && peer_pop(p, b)
        && peer_write_all(p, b, a->big.data + 2 * third, a->big.len - 2 * third,
                          0);
}

static int auto_pop_server(PEER *p)
{
    POP_ARG *a = p->arg;
    BIO *b = p->top;

    return PEER_CHECK(p, BIO_onion_set_flags(b, BIO_ONION_AUTO_POP) == 1,
                      "set_flags")
        && PEER_CHECK(p, BIO_onion_get_flags(b) == BIO_ONION_AUTO_POP,
                      "get_flags returned %u", BIO_onion_get_flags(b))
        && peer_push_handshake(p, b, a->ctxs.server[0], 0)
        && peer_push_handshake(p, b, a->ctxs.server[1], 0)
        && peer_recv(p, b, &a->big, 0)
        && PEER_CHECK(p, BIO_onion_get_depth(b) == 0,
                      "depth %d after two automatic pops",
                      BIO_onion_get_depth(b))
        && PEER_CHECK(p, BIO_onion_peer_closed(b) == 0, "peer_closed set");
}

static void test_pop_auto_pop(void)
{
    POP_ARG a;

    if (pop_arg_init(&a, BY_CLIENT))
        RUN_PEERS(auto_pop_client, &a, auto_pop_server, &a, 0);
    pop_arg_cleanup(&a);
}

/* Depth 3 down to 0 with alternating initiators, then two new layers. */
static int all_layers_side(PEER *p)
{
    POP_ARG *a = p->arg;
    BIO *b = p->top;
    int c = p->is_client;
    int i;

    for (i = 0; i < 3; i++)
        if (!peer_push_handshake(p, b,
                                 c ? a->ctxs.client[i] : a->ctxs.server[i], c))
            return 0;
    for (i = 0; i < 3; i++)
        if (!exchange(p, b, a) || !close_layer(p, b, i % 3))
            return 0;
    if (!plain_check(p, b))
        return 0;
    for (i = 2; i >= 1; i--)
        if (!peer_push_handshake(p, b,
                                 c ? a->ctxs.client[i] : a->ctxs.server[i], c))
            return 0;
    return exchange(p, b, a) && close_layer(p, b, BY_SERVER)
        && close_layer(p, b, BY_CLIENT) && plain_check(p, b);
}

static void test_pop_all_layers_then_push(void)
{
    run_pop(all_layers_side, BY_CLIENT);
}

int register_pop_suite(void)
{
    CU_pSuite s = CU_add_suite("pop", unit_suite_init, unit_suite_cleanup);

    return s != NULL && CU_add_test(s, "by_client", test_pop_by_client) != NULL
        && CU_add_test(s, "by_server", test_pop_by_server) != NULL
        && CU_add_test(s, "by_both_at_once", test_pop_by_both_at_once) != NULL
        && CU_add_test(s, "data_before_close_notify",
                       test_pop_data_before_close_notify)
        != NULL
        && CU_add_test(s, "drains_app_data", test_pop_drains_app_data) != NULL
        && CU_add_test(s, "peer_closed_stays", test_pop_peer_closed_stays)
        != NULL
        && CU_add_test(s, "auto_pop", test_pop_auto_pop) != NULL
        && CU_add_test(s, "all_layers_then_push", test_pop_all_layers_then_push)
        != NULL;
}
