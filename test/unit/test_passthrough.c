/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * Pass-through: at depth 0 the onion is transparent (read, write, puts,
 * the _ex forms, BIO_pending, BIO_eof, BIO_get_fd, retry flags forwarded);
 * BIO_do_handshake at depth 0 returns 1 over a socket and makes a connect
 * BIO connect; kernel TLS ctrls never reach the socket while a layer is
 * present, neither from the application nor from an inner layer's SSL.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"

/* Kernel TLS ctrls (72, 74, 75 are internal to OpenSSL's headers). */
#define CTRL_SET_KTLS 72
#define CTRL_GET_KTLS_SEND 73
#define CTRL_SET_KTLS_TX_SEND_CTRL_MSG 74
#define CTRL_CLEAR_KTLS_TX_CTRL_MSG 75
#define CTRL_GET_KTLS_RECV 76

static void test_passthrough_memory(void)
{
    BIO *b = BIO_new_onion(), *mem = BIO_new(BIO_s_mem());
    unsigned char buf[200], *big = NULL;
    PAYLOAD pl;
    size_t n = 0, off;
    char why[512];
    int r;

    memset(&pl, 0, sizeof(pl));
    if (!CHECK(b != NULL && mem != NULL, "allocation")) {
        BIO_free(mem);
        goto end;
    }
    BIO_set_mem_eof_return(mem, -1);
    BIO_push(b, mem);
    CHECK(BIO_write(b, "hello", 5) == 5, "BIO_write");
    CHECK(BIO_pending(b) == 5 && BIO_pending(mem) == 5,
          "BIO_pending %ld (memory BIO %ld)", (long)BIO_pending(b),
          (long)BIO_pending(mem));
    CHECK(BIO_wpending(b) == BIO_wpending(mem), "BIO_wpending %ld vs %ld",
          (long)BIO_wpending(b), (long)BIO_wpending(mem));
    CHECK(BIO_puts(b, " world") == 6, "BIO_puts");
    CHECK(BIO_write_ex(b, "!", 1, &n) == 1 && n == 1, "BIO_write_ex");
    CHECK(BIO_eof(b) == BIO_eof(mem) && BIO_eof(b) == 0, "BIO_eof");
    r = BIO_read(b, buf, 7);
    CHECK(r == 7 && memcmp(buf, "hello w", 7) == 0, "BIO_read: %d", r);
    CHECK(BIO_read_ex(b, buf, sizeof(buf), &n) == 1 && n == 5
              && memcmp(buf, "orld!", 5) == 0,
          "BIO_read_ex: %zu", n);
    CHECK(BIO_pending(b) == 0, "BIO_pending %ld", (long)BIO_pending(b));
    CHECK(BIO_eof(b) == BIO_eof(mem), "BIO_eof %d vs %d", (int)BIO_eof(b),
          (int)BIO_eof(mem));
    r = BIO_read(b, buf, sizeof(buf));
    CHECK(r < 0 && BIO_should_retry(b) && BIO_should_read(b),
          "read of an empty memory BIO: %d, retry %d, read %d", r,
          BIO_should_retry(b), BIO_should_read(b));
    /* A payload through and back. */
    if (!CHECK(payload_init(&pl, 100000, 91), "payload"))
        goto end;
    for (off = 0; off < pl.len; off += 3000) {
        int k = (int)(pl.len - off < 3000 ? pl.len - off : 3000);

        if (!CHECK(BIO_write(b, pl.data + off, k) == k, "BIO_write"))
            goto end;
    }
    big = OPENSSL_malloc(pl.len);
    if (!CHECK(big != NULL, "malloc"))
        goto end;
    for (off = 0; off < pl.len; off += (size_t)r) {
        r = BIO_read(b, big + off, (int)(pl.len - off));
        if (!CHECK(r > 0, "BIO_read at %zu: %d", off, r))
            goto end;
    }
    CHECK(payload_check(&pl, big, pl.len, why, sizeof(why)), "%s", why);
    CHECK(BIO_onion_get_error_layer(b) == BIO_ONION_ERROR_NONE,
          "error layer %d", BIO_onion_get_error_layer(b));
end:
    OPENSSL_free(big);
    payload_free(&pl);
    BIO_free_all(b);
}

/*
 * BIO_free of an onion frees its layers, never the next BIO; BIO_pop
 * detaches it.  (A double free or use after free shows under valgrind and
 * the sanitizers.)
 */
static void test_passthrough_free_keeps_next_bio(void)
{
    SSL_CTX *ctx = certs_client_ctx(&unit_layer_opts[0]);
    BIO *b = BIO_new_onion(), *end1 = NULL, *end2 = NULL;
    unsigned char buf[8];
    int r;

    if (!CHECK(ctx != NULL && b != NULL && pump_pair_new(&end1, &end2, 0),
               "allocation"))
        goto end;
    BIO_push(b, end1);
    r = BIO_onion_push_tls(b, ctx, 1);
    CHECK(r == 1 && BIO_onion_get_depth(b) == 1, "push over a pair: %d", r);
    /* The client's ClientHello goes to the pair. */
    r = BIO_do_handshake(b);
    CHECK(r <= 0 && BIO_should_retry(b), "handshake over a pair: %d", r);
    CHECK(BIO_pending(end2) > 0, "no ClientHello in the pair");
    CHECK(BIO_pop(b) == end1, "BIO_pop did not return the next BIO");
    BIO_free(b);
    b = NULL;
    /* |end1| is still ours and alive. */
    CHECK(BIO_write(end1, "x", 1) == 1, "write to the next BIO");
    CHECK(BIO_read(end2, buf, 5) == 5 && buf[0] == 0x16,
          "the ClientHello did not survive BIO_free of the onion");
end:
    BIO_free(b);
    BIO_free(end1);
    BIO_free(end2);
    SSL_CTX_free(ctx);
}

static int read_fd_all(int fd, unsigned char *buf, size_t len)
{
    size_t off = 0;

    while (off < len) {
        ssize_t r = read(fd, buf + off, len - off);

        if (r <= 0)
            return 0;
        off += (size_t)r;
    }
    return 1;
}

static int write_fd_all(int fd, const unsigned char *buf, size_t len)
{
    size_t off = 0;

    while (off < len) {
        ssize_t r = write(fd, buf + off, len - off);

        if (r <= 0)
            return 0;
        off += (size_t)r;
    }
    return 1;
}

static void test_passthrough_socket(void)
{
    int sv[2] = { -1, -1 }, fd = -1, fl;
    BIO *b = BIO_new_onion(), *sock = NULL;
    unsigned char *got = NULL;
    PAYLOAD out, in;
    size_t off;
    char why[512];
    int r;

    memset(&out, 0, sizeof(out));
    memset(&in, 0, sizeof(in));
    if (!CHECK(b != NULL, "BIO_new_onion")
        || !CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair")
        || !CHECK(payload_init(&out, 65536, 92) && payload_init(&in, 60000, 93),
                  "payloads"))
        goto end;
    sock = BIO_new_socket(sv[0], BIO_NOCLOSE);
    if (!CHECK(sock != NULL, "BIO_new_socket"))
        goto end;
    BIO_push(b, sock);
    CHECK(BIO_get_fd(b, &fd) == sv[0] && fd == sv[0],
          "BIO_get_fd through the onion: %d, expected %d", fd, sv[0]);
    r = BIO_do_handshake(b);
    CHECK(r == 1, "BIO_do_handshake at depth 0 over a socket returned %d", r);
    got = OPENSSL_malloc(out.len);
    if (!CHECK(got != NULL, "malloc"))
        goto end;
    for (off = 0; off < out.len; off += (size_t)r) {
        r = BIO_write(b, out.data + off, (int)(out.len - off));
        if (!CHECK(r > 0, "BIO_write at %zu: %d", off, r))
            goto end;
    }
    CHECK(BIO_flush(b) == 1, "BIO_flush");
    if (CHECK(read_fd_all(sv[1], got, out.len), "read from the peer fd"))
        CHECK(payload_check(&out, got, out.len, why, sizeof(why)), "%s", why);
    if (!CHECK(write_fd_all(sv[1], in.data, in.len), "write to the peer fd"))
        goto end;
    for (off = 0; off < in.len; off += (size_t)r) {
        r = BIO_read(b, got + off, (int)(in.len - off));
        if (!CHECK(r > 0, "BIO_read at %zu: %d", off, r))
            goto end;
    }
    CHECK(payload_check(&in, got, in.len, why, sizeof(why)), "%s", why);
    /* Non-blocking: the socket's retry state comes through. */
    fl = fcntl(sv[0], F_GETFL);
    if (!CHECK(fl >= 0 && fcntl(sv[0], F_SETFL, fl | O_NONBLOCK) == 0, "fcntl"))
        goto end;
    r = BIO_read(b, got, 100);
    CHECK(r < 0 && BIO_should_retry(b) && BIO_should_read(b),
          "read of an idle non-blocking socket: %d, retry %d, read %d", r,
          BIO_should_retry(b), BIO_should_read(b));
    /* End of stream at depth 0 is the socket's: 0. */
    close(sv[1]);
    sv[1] = -1;
    r = BIO_read(b, got, 100);
    CHECK(r == 0 && !BIO_should_retry(b),
          "read at EOF at depth 0 returned %d (retry %d)", r,
          BIO_should_retry(b));
end:
    OPENSSL_free(got);
    payload_free(&out);
    payload_free(&in);
    BIO_free_all(b);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
}

/* A TCP listener on 127.0.0.1 with a port the kernel chose. */
static int listen_loopback(int *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 4) != 0
        || getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

typedef struct accept_arg_st {
    int lfd;
    SSL_CTX *ctx; /* NULL: plain echo of |len| bytes */
    size_t len;
    TFAIL fail;
} ACCEPT_ARG;

/* Accepts one connection, optionally runs a TLS server on it, echoes. */
static void *accept_thread(void *arg)
{
    ACCEPT_ARG *a = arg;
    unsigned char *buf = OPENSSL_malloc(a->len);
    struct timeval tv;
    BIO *b = NULL, *sock = NULL;
    int fd = -1;
    size_t off;
    int r;

    if (!TFAIL_CHECK(&a->fail, buf != NULL, "malloc"))
        goto end;
    tv.tv_sec = (time_t)test_timeout_seconds();
    tv.tv_usec = 0;
    setsockopt(a->lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    fd = accept(a->lfd, NULL, NULL);
    if (!TFAIL_CHECK(&a->fail, fd >= 0, "accept: %s", strerror(errno)))
        goto end;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    b = BIO_new_onion();
    sock = BIO_new_socket(fd, BIO_NOCLOSE);
    if (!TFAIL_CHECK(&a->fail, b != NULL && sock != NULL, "allocation")) {
        BIO_free(sock);
        goto end;
    }
    BIO_push(b, sock);
    if (a->ctx != NULL
        && (!TFAIL_CHECK(&a->fail, BIO_onion_push_tls(b, a->ctx, 0) == 1,
                         "push")
            || !TFAIL_CHECK(&a->fail, BIO_do_handshake(b) == 1,
                            "server handshake")))
        goto end;
    for (off = 0; off < a->len; off += (size_t)r) {
        r = BIO_read(b, buf + off, (int)(a->len - off));
        if (!TFAIL_CHECK(&a->fail, r > 0, "read at %zu: %d", off, r))
            goto end;
    }
    for (off = 0; off < a->len; off += (size_t)r) {
        r = BIO_write(b, buf + off, (int)(a->len - off));
        if (!TFAIL_CHECK(&a->fail, r > 0, "write at %zu: %d", off, r))
            goto end;
    }
    if (a->ctx != NULL) {
        r = BIO_read(b, buf, 1);
        TFAIL_CHECK(&a->fail, r == 0 && BIO_onion_peer_closed(b) == 1,
                    "expected close_notify, read %d", r);
        TFAIL_CHECK(&a->fail, BIO_onion_pop(b) == 1, "pop");
    }
end:
    BIO_free_all(b);
    if (fd >= 0) {
        shutdown(fd, SHUT_RDWR);
        close(fd);
    }
    OPENSSL_free(buf);
    return NULL;
}

/*
 * An onion over a connect BIO to a loopback listener: BIO_do_handshake
 * connects it (depth 0), or connects and runs the TLS handshake (depth 1).
 */
static void run_connect(int with_layer)
{
    ACCEPT_ARG a;
    UNIT_CTXS ctxs;
    PAYLOAD pl;
    pthread_t th;
    int started = 0, port = 0, fd = -1;
    BIO *b = NULL, *conn = NULL;
    unsigned char *got = NULL;
    char addr[64], why[512];
    size_t off;
    int r;

    memset(&a, 0, sizeof(a));
    memset(&pl, 0, sizeof(pl));
    memset(&ctxs, 0, sizeof(ctxs));
    tfail_init(&a.fail, "listener");
    a.lfd = listen_loopback(&port);
    if (!CHECK(a.lfd >= 0, "loopback listener: %s", strerror(errno))
        || !CHECK(payload_init(&pl, 40000, 94), "payload")
        || (with_layer && !unit_ctxs_new(&ctxs, NULL, 1)))
        goto end;
    a.len = pl.len;
    a.ctx = with_layer ? ctxs.server[0] : NULL;
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    b = BIO_new_onion();
    conn = BIO_new_connect(addr);
    got = OPENSSL_malloc(pl.len);
    if (!CHECK(b != NULL && conn != NULL && got != NULL, "allocation")) {
        BIO_free(conn);
        goto end;
    }
    BIO_push(b, conn);
    if (!CHECK(pthread_create(&th, NULL, accept_thread, &a) == 0,
               "pthread_create"))
        goto end;
    started = 1;
    if (with_layer
        && !CHECK(BIO_onion_push_tls(b, ctxs.client[0], 1) == 1, "push"))
        goto end;
    r = BIO_do_handshake(b);
    if (!CHECK(r == 1, "BIO_do_handshake over a connect BIO returned %d", r))
        goto end;
    CHECK(BIO_get_fd(b, &fd) >= 0 && fd >= 0, "BIO_get_fd after connect: %d",
          fd);
    for (off = 0; off < pl.len; off += (size_t)r) {
        r = BIO_write(b, pl.data + off, (int)(pl.len - off));
        if (!CHECK(r > 0, "BIO_write at %zu: %d", off, r))
            goto end;
    }
    for (off = 0; off < pl.len; off += (size_t)r) {
        r = BIO_read(b, got + off, (int)(pl.len - off));
        if (!CHECK(r > 0, "BIO_read at %zu: %d", off, r))
            goto end;
    }
    CHECK(payload_check(&pl, got, pl.len, why, sizeof(why)), "%s", why);
    if (with_layer)
        CHECK(BIO_onion_pop(b) == 1, "pop");
end:
    /* Closing the connection unblocks the listener whatever happened. */
    BIO_free_all(b);
    if (started) {
        if (a.lfd >= 0)
            shutdown(a.lfd, SHUT_RDWR);
        pthread_join(th, NULL);
        CHECK(!a.fail.failed, "%s", a.fail.msg);
    }
    if (a.lfd >= 0)
        close(a.lfd);
    OPENSSL_free(got);
    payload_free(&pl);
    unit_ctxs_free(&ctxs);
}

static void test_passthrough_connect_bio(void)
{
    run_connect(0);
}

static void test_passthrough_connect_bio_with_layer(void)
{
    run_connect(1);
}

typedef struct ktls_arg_st {
    UNIT_CTXS ctxs;
    PAYLOAD pl;
} KTLS_ARG;

static int ktls_seen(BIO *rec)
{
    return (int)(recbio_ctrl_count(rec, CTRL_SET_KTLS)
                 + recbio_ctrl_count(rec, CTRL_GET_KTLS_SEND)
                 + recbio_ctrl_count(rec, CTRL_SET_KTLS_TX_SEND_CTRL_MSG)
                 + recbio_ctrl_count(rec, CTRL_CLEAR_KTLS_TX_CTRL_MSG)
                 + recbio_ctrl_count(rec, CTRL_GET_KTLS_RECV));
}

/*
 * The client has a recording BIO between its onion and the socket.  Layer
 * 1 is configured with SSL_OP_ENABLE_KTLS, layer 0 is not: any
 * BIO_CTRL_SET_KTLS at the socket would come from the inner layer.
 */
static int ktls_client(PEER *p)
{
    KTLS_ARG *a = p->arg;
    BIO *b, *rec = recbio_new();
    SSL *ssl1 = NULL;
    long r;

    if (!PEER_CHECK(p, rec != NULL, "recbio_new"))
        return 0;
    BIO_pop(p->onion);
    BIO_push(rec, p->sock);
    p->top = b = BIO_push(p->onion, rec);
    r = BIO_ctrl(b, BIO_CTRL_GET_KTLS_SEND, 0, NULL);
    if (!PEER_CHECK(p, recbio_ctrl_count(rec, CTRL_GET_KTLS_SEND) == 1,
                    "at depth 0 BIO_CTRL_GET_KTLS_SEND must be forwarded "
                    "(seen %lu times)",
                    recbio_ctrl_count(rec, CTRL_GET_KTLS_SEND)))
        return 0;
    if (!peer_push_handshake(p, b, a->ctxs.client[0], 1)
        || !peer_push_handshake(p, b, a->ctxs.client[1], 1)
        || !PEER_CHECK(p, recbio_ctrl_count(rec, CTRL_SET_KTLS) == 0,
                       "BIO_CTRL_SET_KTLS of the inner layer reached the "
                       "socket (%lu times)",
                       recbio_ctrl_count(rec, CTRL_SET_KTLS))
        || !PEER_CHECK(p, recbio_reset(rec), "recbio_reset"))
        return 0;
    r = BIO_ctrl(b, BIO_CTRL_GET_KTLS_SEND, 0, NULL);
    if (!PEER_CHECK(p, r <= 0, "GET_KTLS_SEND with layers returned %ld", r))
        return 0;
    r = BIO_ctrl(b, BIO_CTRL_GET_KTLS_RECV, 0, NULL);
    if (!PEER_CHECK(p, r <= 0, "GET_KTLS_RECV with layers returned %ld", r)
        || !PEER_CHECK(p, ktls_seen(rec) == 0,
                       "kernel TLS ctrls sent to the onion with layers "
                       "reached the socket (%d)",
                       ktls_seen(rec))
        || !PEER_CHECK(p, BIO_onion_get_ssl(b, 1, &ssl1) == 1, "get_ssl"))
        return 0;
    /* The inner layer's own BIOs answer no and pass nothing down. */
    if (!PEER_CHECK(
            p,
            BIO_ctrl(SSL_get_wbio(ssl1), BIO_CTRL_GET_KTLS_SEND, 0, NULL) <= 0,
            "inner layer wbio reports kernel TLS send")
        || !PEER_CHECK(
            p,
            BIO_ctrl(SSL_get_rbio(ssl1), BIO_CTRL_GET_KTLS_RECV, 0, NULL) <= 0,
            "inner layer rbio reports kernel TLS receive")
        || !PEER_CHECK(p, ktls_seen(rec) == 0,
                       "kernel TLS ctrls of the inner layer's BIOs reached "
                       "the socket (%d)",
                       ktls_seen(rec)))
        return 0;
    return peer_send(p, b, &a->pl, 0) && peer_recv(p, b, &a->pl, 0)
        && PEER_CHECK(p, recbio_ctrl_count(rec, CTRL_SET_KTLS) == 0,
                      "BIO_CTRL_SET_KTLS reached the socket")
        && peer_pop(p, b) && peer_pop(p, b);
}

static int ktls_server(PEER *p)
{
    KTLS_ARG *a = p->arg;
    BIO *b = p->top;

    return peer_push_handshake(p, b, a->ctxs.server[0], 0)
        && peer_push_handshake(p, b, a->ctxs.server[1], 0)
        && peer_recv(p, b, &a->pl, 0) && peer_send(p, b, &a->pl, 0)
        && peer_expect_closed(p, b) && peer_pop(p, b)
        && peer_expect_closed(p, b) && peer_pop(p, b);
}

static void test_passthrough_ktls_ctrls_not_forwarded(void)
{
    CERTS_TLS_OPTS o[2];
    KTLS_ARG a;

    memset(&a, 0, sizeof(a));
    o[0] = unit_layer_opts[0];
    o[1] = unit_layer_opts[0];
    o[1].host = "ktls.onion.test";
    o[1].options = SSL_OP_ENABLE_KTLS;
    if (unit_ctxs_new(&a.ctxs, o, 2)
        && CHECK(payload_init(&a.pl, 50000, 95), "payload"))
        RUN_PEERS(ktls_client, &a, ktls_server, &a, 0);
    payload_free(&a.pl);
    unit_ctxs_free(&a.ctxs);
}

int register_passthrough_suite(void)
{
    CU_pSuite s =
        CU_add_suite("passthrough", unit_suite_init, unit_suite_cleanup);

    return s != NULL
        && CU_add_test(s, "memory", test_passthrough_memory) != NULL
        && CU_add_test(s, "free_keeps_next_bio",
                       test_passthrough_free_keeps_next_bio)
        != NULL
        && CU_add_test(s, "socket", test_passthrough_socket) != NULL
        && CU_add_test(s, "connect_bio", test_passthrough_connect_bio) != NULL
        && CU_add_test(s, "connect_bio_with_layer",
                       test_passthrough_connect_bio_with_layer)
        != NULL
        && CU_add_test(s, "ktls_ctrls_not_forwarded",
                       test_passthrough_ktls_ctrls_not_forwarded)
        != NULL;
}
