/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * nonblocking_poll: one poll() loop drives both ends of a TCP connection
 * on 127.0.0.1.  Each end is an onion of three TLS layers (each with its
 * own CA and name, the middle one TLS 1.2) over a non-blocking socket.
 * Each end pushes its next layer as soon as the one below is up, sends
 * 1 MiB, reads the other end's 1 MiB and pops its three layers.
 *
 * The rules of a non-blocking onion are those of any OpenSSL BIO:
 *  - a call that returns <= 0 with BIO_should_retry() set is repeated
 *    later, with the same arguments for BIO_write;
 *  - BIO_should_read() means "wait until the socket is readable",
 *    BIO_should_write() "until it is writable", whatever the call was (a
 *    write may need to read, a read may need to write);
 *  - BIO_pending() > 0 means a read can make progress without the socket:
 *    read before polling, or poll() may wait for bytes that already came.
 */

#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "bio_onion.h"
#include "example_certs.h"

#define DEPTH 3
#define PAYLOAD (1024 * 1024)

static const char *const names[DEPTH] = { "outer.example", "middle.example",
                                          "inner.example" };

enum stage { HANDSHAKE, TRANSFER, CLOSE, DONE };

struct end {
    const char *name;
    int client;
    BIO *onion;
    SSL_CTX **ctx; /* one per layer */
    enum stage stage;
    unsigned char *out; /* what this end sends */
    size_t sent, received;
    EVP_MD_CTX *md; /* SHA-256 of what it received */
    short events;   /* what poll() must wait for */
};

/* retry turns a failed call into poll() events; 0 when it really failed. */
static int retry(struct end *e)
{
    if (!BIO_should_retry(e->onion)) {
        fprintf(stderr, "%s: failed (error layer %d)\n", e->name,
                BIO_onion_get_error_layer(e->onion));
        return 0;
    }
    if (BIO_should_read(e->onion))
        e->events |= POLLIN;
    if (BIO_should_write(e->onion))
        e->events |= POLLOUT;
    return e->events != 0;
}

/* push_layer adds this end's next layer, client or server. */
static int push_layer(struct end *e)
{
    int i = BIO_onion_get_depth(e->onion);
    SSL *ssl;

    if (BIO_onion_push_tls(e->onion, e->ctx[i], e->client) != 1
        || BIO_onion_get_ssl(e->onion, -1, &ssl) != 1)
        return 0;
    if (i == 1 && !SSL_set_max_proto_version(ssl, TLS1_2_VERSION))
        return 0;
    if (e->client)
        return SSL_set_tlsext_host_name(ssl, names[i])
            && SSL_set1_host(ssl, names[i]);
    return 1;
}

/* step does all that this end can do now without blocking; 0 on error. */
static int step(struct end *e)
{
    unsigned char buf[16384];
    size_t left;
    int r;

    e->events = 0;
    while (e->stage == HANDSHAKE) {
        if ((r = BIO_do_handshake(e->onion)) <= 0)
            return retry(e);
        if (BIO_onion_get_depth(e->onion) == DEPTH) {
            example_print_layers(e->name, e->onion);
            e->stage = TRANSFER;
        } else if (!push_layer(e)) {
            return 0;
        }
    }
    if (e->stage == TRANSFER) {
        while (e->sent < PAYLOAD) {
            left = PAYLOAD - e->sent;
            if ((r = BIO_write(e->onion, e->out + e->sent, (int)left)) <= 0) {
                if (!retry(e))
                    return 0;
                break;
            }
            e->sent += (size_t)r;
        }
        while (e->received < PAYLOAD) {
            left = PAYLOAD - e->received;
            r = BIO_read(e->onion, buf,
                         left < sizeof(buf) ? (int)left : (int)sizeof(buf));
            if (r <= 0) {
                if (!retry(e))
                    return 0;
                break;
            }
            if (!EVP_DigestUpdate(e->md, buf, (size_t)r))
                return 0;
            e->received += (size_t)r;
        }
        if (e->sent < PAYLOAD || e->received < PAYLOAD)
            return 1;
        e->stage = CLOSE;
    }
    while (e->stage == CLOSE) {
        if (BIO_onion_get_depth(e->onion) == 0) {
            e->stage = DONE;
        } else if (BIO_onion_pop(e->onion) <= 0) {
            /* All data was read: more of it would be a protocol error. */
            if (BIO_get_retry_reason(e->onion) == BIO_ONION_RR_APP_DATA) {
                fprintf(stderr, "%s: unexpected data\n", e->name);
                return 0;
            }
            return retry(e);
        }
    }
    return 1;
}

/* tcp_pair connects two non-blocking TCP sockets over 127.0.0.1. */
static int tcp_pair(int fds[2])
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int lfd = socket(AF_INET, SOCK_STREAM, 0), ok = 0;

    fds[0] = fds[1] = -1;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0
        || listen(lfd, 1) != 0
        || getsockname(lfd, (struct sockaddr *)&sin, &len) != 0
        || (fds[0] = socket(AF_INET, SOCK_STREAM, 0)) < 0
        || connect(fds[0], (struct sockaddr *)&sin, sizeof(sin)) != 0
        || (fds[1] = accept(lfd, NULL, NULL)) < 0 || !BIO_socket_nbio(fds[0], 1)
        || !BIO_socket_nbio(fds[1], 1))
        perror("tcp_pair");
    else
        ok = 1;
    if (lfd >= 0)
        close(lfd);
    return ok;
}

int main(void)
{
    SSL_CTX *sctx[DEPTH] = { NULL }, *cctx[DEPTH] = { NULL };
    struct end ends[2] = {
        { "client", 1, NULL, cctx, HANDSHAKE, NULL, 0, 0, NULL, 0 },
        { "server", 0, NULL, sctx, HANDSHAKE, NULL, 0, 0, NULL, 0 }
    };
    unsigned char got[2][32], want[2][32];
    struct pollfd pfd[2];
    int fds[2] = { -1, -1 }, i, r, busy, ok = 0;
    BIO *sock;

    if (!tcp_pair(fds))
        goto end;
    for (i = 0; i < DEPTH; i++)
        if (!example_ctx_pair(names[i], &sctx[i], &cctx[i]))
            goto end;
    for (i = 0; i < 2; i++) {
        struct end *e = &ends[i];

        if ((sock = BIO_new_socket(fds[i], BIO_CLOSE)) == NULL)
            goto end;
        fds[i] = -1; /* the socket BIO closes it */
        if ((e->onion = BIO_new_onion()) == NULL) {
            BIO_free(sock);
            goto end;
        }
        BIO_push(e->onion, sock);
        e->out = malloc(PAYLOAD);
        e->md = EVP_MD_CTX_new();
        if (e->out == NULL || e->md == NULL || RAND_bytes(e->out, PAYLOAD) != 1
            || !EVP_DigestInit_ex(e->md, EVP_sha256(), NULL)
            || !EVP_Digest(e->out, PAYLOAD, want[i], NULL, EVP_sha256(), NULL)
            || !push_layer(e))
            goto end;
        pfd[i].fd = (int)BIO_get_fd(e->onion, NULL); /* forwarded below */
    }
    for (;;) {
        for (i = 0; i < 2; i++)
            if (ends[i].stage != DONE && !step(&ends[i]))
                goto end;
        if (ends[0].stage == DONE && ends[1].stage == DONE)
            break;
        busy = 0;
        for (i = 0; i < 2; i++) {
            pfd[i].events = ends[i].stage == DONE ? 0 : ends[i].events;
            /* Bytes inside a layer do not wake poll(): step again now. */
            if (ends[i].stage != DONE && BIO_pending(ends[i].onion) > 0)
                busy = 1;
        }
        r = poll(pfd, 2, busy ? 0 : 30000);
        if (r < 0 || (r == 0 && !busy)) {
            fprintf(stderr, "poll: %s\n", r < 0 ? "failed" : "stalled 30 s");
            goto end;
        }
    }
    for (i = 0; i < 2; i++)
        if (!EVP_DigestFinal_ex(ends[i].md, got[i], NULL))
            goto end;
    /* Each end must have received exactly what the other one sent. */
    if (memcmp(got[0], want[1], 32) != 0 || memcmp(got[1], want[0], 32) != 0) {
        fprintf(stderr, "SHA-256 mismatch\n");
        goto end;
    }
    fprintf(stderr,
            "nonblocking_poll: %d layers, %d bytes each way, SHA-256 "
            "matches, all layers popped\n",
            DEPTH, PAYLOAD);
    ok = 1;
end:
    if (!ok)
        ERR_print_errors_fp(stderr);
    for (i = 0; i < 2; i++) {
        BIO_free_all(ends[i].onion);
        free(ends[i].out);
        EVP_MD_CTX_free(ends[i].md);
        if (fds[i] >= 0)
            close(fds[i]);
    }
    for (i = 0; i < DEPTH; i++) {
        SSL_CTX_free(sctx[i]);
        SSL_CTX_free(cctx[i]);
    }
    fprintf(stderr, "nonblocking_poll: %s\n", ok ? "OK" : "FAILED");
    return ok ? 0 : 1;
}
