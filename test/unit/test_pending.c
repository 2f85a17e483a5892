/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * Pending data: an application that polls the socket before reading must
 * never wait while data sits inside a layer.  The peer packs several inner
 * records into one outer record (a gather BIO between its two onions
 * collects them); the reader polls its non-blocking socket only when
 * BIO_pending says nothing is buffered.  BIO_pending must also count
 * plaintext left in the innermost layer and leftover push data, and must
 * not count a partial record that still needs bytes from the transport.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>

#include "unit.h"

#define BURSTS 20
#define PER_BURST 8

static const CERTS_TLS_OPTS pending_opts[2] = {
    { TLS1_3_VERSION, TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", NULL,
      "pend0.onion.test", CERTS_LEAF_GOOD, 0, 0, 0 },
    { TLS1_3_VERSION, TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256", NULL,
      "pend1.onion.test", CERTS_LEAF_GOOD, 0, 0, 0 },
};

typedef struct pending_arg_st {
    UNIT_CTXS ctxs;
    int use_buffer; /* BIO_f_buffer between the writer's onions, not gather */
    PAYLOAD data;
    size_t sizes[BURSTS][PER_BURST];
} PENDING_ARG;

static size_t burst_len(const PENDING_ARG *a, int i)
{
    size_t n = 0;
    int j;

    for (j = 0; j < PER_BURST; j++)
        n += a->sizes[i][j];
    return n;
}

/*
 * The writer: layer 0 in the runner's onion, layer 1 in a second onion on
 * top, with a gather BIO (writes held until BIO_flush) or a BIO_f_buffer
 * between them.  Each burst is PER_BURST inner records gathered and
 * flushed as one outer record; then it waits for a one-byte
 * acknowledgement (read through that BIO).
 */
static int packer_client(PEER *p)
{
    PENDING_ARG *a = p->arg;
    BIO *gather, *inner;
    unsigned char ack;
    size_t off = 0;
    int i, j;

    if (!peer_push_handshake(p, p->top, a->ctxs.client[0], 1))
        return 0;
    gather = a->use_buffer ? BIO_new(BIO_f_buffer()) : gather_bio_new();
    inner = BIO_new_onion();
    if (!PEER_CHECK(p, gather != NULL && inner != NULL, "allocation")) {
        BIO_free(gather);
        BIO_free(inner);
        return 0;
    }
    BIO_push(gather, p->top);
    p->top = BIO_push(inner, gather);
    if (!peer_push_handshake(p, inner, a->ctxs.client[1], 1))
        return 0;
    for (i = 0; i < BURSTS; i++) {
        for (j = 0; j < PER_BURST; j++) {
            if (!peer_write_all(p, inner, a->data.data + off, a->sizes[i][j],
                                0))
                return 0;
            off += a->sizes[i][j];
        }
        if (!peer_flush(p, inner) || !peer_read_exact(p, inner, &ack, 1, 0)
            || !PEER_CHECK(p, ack == (unsigned char)i, "ack %d for burst %d",
                           ack, i))
            return 0;
    }
    return peer_pop(p, inner) && peer_pop(p, p->onion);
}

static int set_blocking(PEER *p, int on)
{
    int fl = fcntl(p->fd, F_GETFL);

    if (fl < 0)
        return PEER_CHECK(p, 0, "fcntl: %s", strerror(errno));
    fl = on ? fl & ~O_NONBLOCK : fl | O_NONBLOCK;
    return PEER_CHECK(p, fcntl(p->fd, F_SETFL, fl) == 0, "fcntl: %s",
                      strerror(errno));
}

static int wait_fd(PEER *p, short events, const char *why)
{
    struct pollfd pfd;
    int r;

    pfd.fd = p->fd;
    pfd.events = events;
    pfd.revents = 0;
    r = poll(&pfd, 1, (int)test_timeout_seconds() * 1000);
    return PEER_CHECK(p, r == 1, "%s: poll returned %d after %u s", why, r,
                      test_timeout_seconds());
}

/*
 * The reader polls the socket only when BIO_pending is 0, and reads in
 * small pieces.  After every read that leaves part of a burst unread, the
 * rest is already inside the layers (the whole outer record was read), so
 * BIO_pending must be positive.
 */
static int poller_server(PEER *p)
{
    PENDING_ARG *a = p->arg;
    BIO *b = p->top;
    unsigned char buf[37], ack;
    size_t off = 0;
    int i, r, polls = 0, spins = 0;
    char st[256];

    if (!peer_push_handshake(p, b, a->ctxs.server[0], 0)
        || !peer_push_handshake(p, b, a->ctxs.server[1], 0)
        || !set_blocking(p, 0))
        return 0;
    for (i = 0; i < BURSTS; i++) {
        size_t want = burst_len(a, i), got = 0;

        while (got < want) {
            if (BIO_pending(b) <= 0) {
                if (!wait_fd(p, POLLIN, "no data buffered and none arrives"))
                    return PEER_CHECK(p, 0,
                                      "stall in burst %d after %zu of %zu "
                                      "bytes: BIO_pending is 0",
                                      i, got, want);
                polls++;
                spins = 0;
            } else if (++spins > 1000) {
                /* Reads keep asking for a retry while pending says more. */
                return PEER_CHECK(p, 0,
                                  "spin in burst %d: BIO_pending %ld but "
                                  "1000 reads returned retry",
                                  i, (long)BIO_pending(b));
            }
            r = BIO_read(
                b, buf,
                (int)(want - got < sizeof(buf) ? want - got : sizeof(buf)));
            if (r <= 0) {
                peer_io_state(b, r, st, sizeof(st));
                if (!PEER_CHECK(
                        p, r < 0 && BIO_should_retry(b) && BIO_should_read(b),
                        "read in burst %d: %s", i, st))
                    return 0;
                continue;
            }
            if (!PEER_CHECK(p, memcmp(buf, a->data.data + off, (size_t)r) == 0,
                            "data differs in burst %d near offset %zu", i, off))
                return 0;
            off += (size_t)r;
            got += (size_t)r;
            spins = 0;
            if (got < want
                && !PEER_CHECK(p, BIO_pending(b) > 0,
                               "burst %d: %zu of %zu bytes read, the rest is "
                               "inside the layers but BIO_pending is %ld",
                               i, got, want, (long)BIO_pending(b)))
                return 0;
        }
        ack = (unsigned char)i;
        for (;;) {
            r = BIO_write(b, &ack, 1);
            if (r == 1)
                break;
            peer_io_state(b, r, st, sizeof(st));
            if (!PEER_CHECK(p, BIO_should_retry(b), "ack write: %s", st)
                || !wait_fd(p, POLLOUT, "ack write"))
                return 0;
        }
    }
    if (!PEER_CHECK(p, off == a->data.len, "read %zu of %zu bytes", off,
                    a->data.len)
        /* The first burst may come with the handshake's last record. */
        || !PEER_CHECK(p, polls >= BURSTS - 1,
                       "only %d polls for %d bursts: the test did not "
                       "exercise poll",
                       polls, BURSTS)
        || !set_blocking(p, 1))
        return 0;
    return peer_expect_closed(p, b) && peer_pop(p, b)
        && peer_expect_closed(p, b) && peer_pop(p, b);
}

static void run_packed(int use_buffer)
{
    PENDING_ARG a;
    uint64_t rng = 77;
    size_t total = 0;
    int i, j;

    memset(&a, 0, sizeof(a));
    a.use_buffer = use_buffer;
    for (i = 0; i < BURSTS; i++)
        for (j = 0; j < PER_BURST; j++) {
            a.sizes[i][j] = 1 + (size_t)test_rand_below(&rng, 300);
            total += a.sizes[i][j];
        }
    if (unit_ctxs_new(&a.ctxs, pending_opts, 2)
        && CHECK(payload_init(&a.data, total, 78), "payload"))
        RUN_PEERS(packer_client, &a, poller_server, &a, 0);
    payload_free(&a.data);
    unit_ctxs_free(&a.ctxs);
}

static void test_pending_packed_inner_records_poll_gather(void)
{
    run_packed(0);
}

static void test_pending_packed_inner_records_poll_buffer(void)
{
    run_packed(1);
}

/* Reads exactly |len| bytes that are already inside |b| (no transport). */
static int read_buffered(BIO *b, unsigned char *out, size_t len,
                         const char *what)
{
    size_t off = 0;

    while (off < len) {
        int r = BIO_read(b, out + off, (int)(len - off));

        if (!CHECK(r > 0,
                   "%s: read returned %d after %zu of %zu bytes "
                   "(retry %d)",
                   what, r, off, len, BIO_should_retry(b)))
            return 0;
        off += (size_t)r;
    }
    return 1;
}

/*
 * Plaintext left in the innermost layer counts; a partial record in the
 * transport (here: a memory BIO the test fills by halves) does not.
 */
static void test_pending_partial_record_not_counted(void)
{
    UNIT_CTXS ctxs;
    PAYLOAD pl;
    BIO *c = NULL, *s = NULL, *pairend = NULL, *mem = NULL;
    unsigned char raw[8192], got[2000];
    char why[512];
    int n, r;

    memset(&pl, 0, sizeof(pl));
    if (!unit_ctxs_new(&ctxs, pending_opts, 2))
        return;
    if (!unit_pair_onions(&c, &s, &ctxs, 2)
        || !CHECK(payload_init(&pl, 1000, 79), "payload"))
        goto end;
    r = BIO_write(c, pl.data, (int)pl.len);
    if (!CHECK(r == (int)pl.len, "write returned %d", r))
        goto end;
    /* Take the records off the wire, then feed them through memory. */
    n = BIO_read(BIO_next(s), raw, sizeof(raw));
    if (!CHECK(n > 100 && n < (int)sizeof(raw), "%d bytes on the wire", n))
        goto end;
    pairend = BIO_pop(s);
    mem = BIO_new(BIO_s_mem());
    if (!CHECK(mem != NULL, "BIO_s_mem"))
        goto end;
    BIO_set_mem_eof_return(mem, -1);
    BIO_push(s, mem);
    if (!CHECK(BIO_write(mem, raw, n / 2) == n / 2, "BIO_write to memory"))
        goto end;
    r = BIO_read(s, got, sizeof(got));
    CHECK(r < 0 && BIO_should_retry(s) && BIO_should_read(s),
          "read of half a record returned %d (retry %d)", r,
          BIO_should_retry(s));
    CHECK(BIO_pending(s) == 0,
          "BIO_pending is %ld with only half a record received",
          (long)BIO_pending(s));
    if (!CHECK(BIO_write(mem, raw + n / 2, n - n / 2) == n - n / 2,
               "BIO_write to memory"))
        goto end;
    /* 10 bytes: the other 990 wait in the innermost layer. */
    if (!read_buffered(s, got, 10, "first read"))
        goto end;
    CHECK(BIO_pending(s) > 0,
          "990 bytes wait in the innermost layer, BIO_pending is %ld",
          (long)BIO_pending(s));
    if (!read_buffered(s, got + 10, pl.len - 10, "rest"))
        goto end;
    CHECK(payload_check(&pl, got, pl.len, why, sizeof(why)), "%s", why);
    CHECK(BIO_pending(s) == 0, "BIO_pending %ld after everything was read",
          (long)BIO_pending(s));
    r = BIO_read(s, got, sizeof(got));
    CHECK(r < 0 && BIO_should_retry(s), "read of an empty memory BIO: %d", r);
end:
    payload_free(&pl);
    BIO_free_all(c);
    BIO_free_all(s);
    BIO_free(pairend);
    unit_ctxs_free(&ctxs);
}

/*
 * Leftover data given to push_ssl_with_data counts in BIO_pending: a read
 * (here the handshake) can progress without touching the transport.
 */
static void test_pending_counts_leftover_data(void)
{
    UNIT_CTXS ctxs;
    PUMP_OP oc[3], os[2];
    PUMP_SIDE sc, ss;
    PAYLOAD pl;
    BIO *c = NULL, *s = NULL, *tc = NULL, *ts = NULL;
    unsigned char hello[4096];
    SSL *ssl = NULL;
    int n, r, sides = 0;

    memset(&pl, 0, sizeof(pl));
    memset(oc, 0, sizeof(oc));
    memset(os, 0, sizeof(os));
    if (!unit_ctxs_new(&ctxs, pending_opts, 1))
        return;
    c = BIO_new_onion();
    s = BIO_new_onion();
    if (!CHECK(c != NULL && s != NULL && pump_pair_new(&tc, &ts, 0)
                   && payload_init(&pl, 5000, 80),
               "setup"))
        goto end;
    BIO_push(c, tc);
    BIO_push(s, ts);
    tc = ts = NULL;
    if (!CHECK(BIO_onion_push_tls(c, ctxs.client[0], 1) == 1, "push"))
        goto end;
    r = BIO_do_handshake(c);
    if (!CHECK(r <= 0 && BIO_should_retry(c), "client handshake: %d", r))
        goto end;
    /* The server reads the ClientHello at depth 0, then pushes with it. */
    n = BIO_read(s, hello, sizeof(hello));
    if (!CHECK(n > 5 && hello[0] == 0x16, "read %d bytes of ClientHello", n))
        goto end;
    ssl = SSL_new(ctxs.server[0]);
    if (!CHECK(ssl != NULL, "SSL_new"))
        goto end;
    SSL_set_accept_state(ssl);
    r = BIO_onion_push_ssl_with_data(s, ssl, hello, (size_t)n);
    if (!CHECK(r == 1, "push_ssl_with_data returned %d", r))
        goto end;
    ssl = NULL;
    CHECK(BIO_pending(s) > 0,
          "%d leftover bytes wait in the onion, BIO_pending is %ld", n,
          (long)BIO_pending(s));
    oc[0].type = PUMP_HANDSHAKE;
    oc[1].type = PUMP_WRITE;
    oc[1].out = &pl;
    oc[2].type = PUMP_FLUSH;
    os[0].type = PUMP_HANDSHAKE;
    os[1].type = PUMP_READ;
    os[1].in = &pl;
    if (!CHECK(pump_side_init(&sc, "client", c, BIO_next(c), oc, 3, 1),
               "pump_side_init"))
        goto end;
    sides = 1;
    if (!CHECK(pump_side_init(&ss, "server", s, BIO_next(s), os, 2, 2),
               "pump_side_init"))
        goto end;
    sides = 2;
    RUN_PUMP(&sc, &ss, 0);
end:
    if (sides >= 1)
        pump_side_cleanup(&sc);
    if (sides >= 2)
        pump_side_cleanup(&ss);
    SSL_free(ssl);
    payload_free(&pl);
    BIO_free_all(c);
    BIO_free_all(s);
    BIO_free(tc);
    BIO_free(ts);
    unit_ctxs_free(&ctxs);
}

int register_pending_suite(void)
{
    CU_pSuite s = CU_add_suite("pending", unit_suite_init, unit_suite_cleanup);

    return s != NULL
        && CU_add_test(s, "packed_inner_records_poll_gather",
                       test_pending_packed_inner_records_poll_gather)
        != NULL
        && CU_add_test(s, "packed_inner_records_poll_buffer",
                       test_pending_packed_inner_records_poll_buffer)
        != NULL
        && CU_add_test(s, "partial_record_not_counted",
                       test_pending_partial_record_not_counted)
        != NULL
        && CU_add_test(s, "counts_leftover_data",
                       test_pending_counts_leftover_data)
        != NULL;
}
