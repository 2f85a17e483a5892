/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * starttls: a line protocol that starts in plaintext, upgrades to TLS with
 * STARTTLS, goes back to plaintext with STOPTLS and upgrades again, over
 * one connection.  Both sides are here: the server in a thread, the client
 * in main(), over a socketpair.
 *
 *   S: 220 ready              C: STARTTLS and ClientHello (one write)
 *   C: DATA n, n bytes        S: 250 <SHA-256 of the n bytes>
 *   C: STOPTLS (both pop)     ... STARTTLS again ...     C: QUIT  S: 221 bye
 *
 * The client does not wait for an answer to STARTTLS: its ClientHello
 * follows the line at once, so the server reads the line and the start of
 * the handshake together.  Those bytes belong to the new layer, and the
 * server hands them over with BIO_onion_push_ssl_with_data.
 */

#include <pthread.h>
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

#define ROUNDS 2
#define PAYLOAD (256 * 1024)

/* A line reader that keeps the bytes it read past the line. */
struct line_reader {
    BIO *b;
    unsigned char buf[4096];
    size_t len;
};

/* read_line reads one CRLF line into |line| without its CRLF; 1 or 0. */
static int read_line(struct line_reader *lr, char *line, size_t size)
{
    unsigned char *nl;
    size_t n;
    int r;

    while ((nl = memchr(lr->buf, '\n', lr->len)) == NULL) {
        if (lr->len == sizeof(lr->buf))
            return 0;
        r = BIO_read(lr->b, lr->buf + lr->len,
                     (int)(sizeof(lr->buf) - lr->len));
        if (r <= 0)
            return 0;
        lr->len += (size_t)r;
    }
    n = (size_t)(nl - lr->buf) + 1;
    if (n < 2 || n > size)
        return 0;
    memcpy(line, lr->buf, n - 2);
    line[n - 2] = '\0';
    lr->len -= n;
    memmove(lr->buf, lr->buf + n, lr->len);
    return 1;
}

static void to_hex(const unsigned char digest[32], char hex[65])
{
    int i;

    for (i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

/* hash_data reads |n| bytes (buffered ones first) into SHA-256 |hex|. */
static int hash_data(struct line_reader *lr, size_t n, char hex[65])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char chunk[16384], digest[32];
    size_t take;
    int r, ok = 0;

    if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
        goto end;
    take = n < lr->len ? n : lr->len;
    if (!EVP_DigestUpdate(md, lr->buf, take))
        goto end;
    lr->len -= take;
    memmove(lr->buf, lr->buf + take, lr->len);
    for (n -= take; n > 0; n -= (size_t)r) {
        r = BIO_read(lr->b, chunk,
                     n < sizeof(chunk) ? (int)n : (int)sizeof(chunk));
        if (r <= 0 || !EVP_DigestUpdate(md, chunk, (size_t)r))
            goto end;
    }
    if (!EVP_DigestFinal_ex(md, digest, NULL))
        goto end;
    to_hex(digest, hex);
    ok = 1;
end:
    EVP_MD_CTX_free(md);
    return ok;
}

/* write_all writes |len| bytes, looping over partial writes; 1 or 0. */
static int write_all(BIO *b, const unsigned char *p, size_t len)
{
    int r;

    for (; len > 0; p += r, len -= (size_t)r)
        if ((r = BIO_write(b, p, len < 65536 ? (int)len : 65536)) <= 0)
            return 0;
    return 1;
}

struct server_args {
    int fd;
    SSL_CTX *ctx;
    int ok;
};

static void *server_main(void *arg)
{
    struct server_args *sa = arg;
    struct line_reader lr = { NULL, { 0 }, 0 };
    char line[128], hex[65];
    SSL *ssl = NULL;
    BIO *sock = BIO_new_socket(sa->fd, BIO_CLOSE);

    lr.b = BIO_new_onion();
    if (sock == NULL || lr.b == NULL) {
        BIO_free(sock);
        goto end;
    }
    BIO_push(lr.b, sock);
    if (BIO_puts(lr.b, "220 ready\r\n") <= 0)
        goto end;
    while (read_line(&lr, line, sizeof(line))) {
        if (strcmp(line, "STARTTLS") == 0) {
            /* Whatever was read past the line is the client's handshake. */
            if ((ssl = SSL_new(sa->ctx)) == NULL
                || BIO_onion_push_ssl_with_data(lr.b, ssl, lr.buf, lr.len) != 1)
                goto end;
            ssl = NULL; /* the onion owns it now */
            fprintf(stderr,
                    "server: STARTTLS with %zu handshake bytes read "
                    "along with the line\n",
                    lr.len);
            lr.len = 0;
            if (BIO_do_handshake(lr.b) != 1)
                goto end;
        } else if (strcmp(line, "STOPTLS") == 0) {
            /* Bytes after STOPTLS inside the closing layer would be lost. */
            if (lr.len != 0 || BIO_onion_pop(lr.b) != 1)
                goto end;
        } else if (strncmp(line, "DATA ", 5) == 0) {
            if (!hash_data(&lr, strtoul(line + 5, NULL, 10), hex)
                || BIO_printf(lr.b, "250 %s\r\n", hex) <= 0)
                goto end;
        } else if (strcmp(line, "QUIT") == 0) {
            sa->ok = BIO_puts(lr.b, "221 bye\r\n") > 0;
            break;
        } else {
            BIO_puts(lr.b, "500 unknown command\r\n");
        }
    }
end:
    if (!sa->ok)
        ERR_print_errors_fp(stderr);
    SSL_free(ssl);
    BIO_free_all(lr.b);
    return NULL;
}

/*
 * pipelined_starttls pushes a client layer and sends the STARTTLS line and
 * the layer's ClientHello in one write, which saves a round trip: the
 * handshake starts with one half of a BIO pair below the onion, the
 * ClientHello is collected from the other half, then the onion goes back
 * onto the socket (BIO_pop and BIO_push rewire its outermost layer).
 * Returns 1 when the new layer is up.
 */
static int pipelined_starttls(BIO *onion, SSL_CTX *ctx)
{
    static const char line[] = "STARTTLS\r\n";
    const int line_len = (int)sizeof(line) - 1;
    BIO *sock = BIO_pop(onion), *near = NULL, *far = NULL;
    unsigned char out[4096];
    SSL *ssl;
    int n, ok = 0;

    if (!BIO_new_bio_pair(&near, 0, &far, 0))
        goto end;
    BIO_push(onion, near);
    if (BIO_onion_push_tls(onion, ctx, 1) != 1
        || BIO_onion_get_ssl(onion, -1, &ssl) != 1
        || !SSL_set_tlsext_host_name(ssl, "localhost")
        || !SSL_set1_host(ssl, "localhost") || BIO_do_handshake(onion) > 0
        || !BIO_should_read(onion))
        goto end;
    memcpy(out, line, (size_t)line_len);
    n = BIO_read(far, out + line_len, (int)sizeof(out) - line_len);
    if (n <= 0 || BIO_ctrl_pending(far) != 0
        || BIO_write(sock, out, line_len + n) != line_len + n)
        goto end;
    ok = 1;
end:
    if (near != NULL)
        BIO_pop(onion); /* takes the pair's half out of the chain */
    BIO_free(near);
    BIO_free(far);
    BIO_push(onion, sock);
    return ok && BIO_do_handshake(onion) == 1;
}

/* client_round: STARTTLS, one DATA exchange, STOPTLS. */
static int client_round(struct line_reader *lr, SSL_CTX *ctx, int round)
{
    unsigned char *data = malloc(PAYLOAD);
    unsigned char digest[32];
    char line[128], expect[65], want[128];
    int ok = 0;

    if (data == NULL || RAND_bytes(data, PAYLOAD) != 1
        || !EVP_Digest(data, PAYLOAD, digest, NULL, EVP_sha256(), NULL))
        goto end;
    to_hex(digest, expect);
    /* Nothing may wait in the reader: the server speaks no more in plain. */
    if (lr->len != 0 || !pipelined_starttls(lr->b, ctx))
        goto end;
    example_print_layers("client", lr->b);
    if (BIO_printf(lr->b, "DATA %d\r\n", PAYLOAD) <= 0
        || !write_all(lr->b, data, PAYLOAD) || BIO_flush(lr->b) != 1
        || !read_line(lr, line, sizeof(line)))
        goto end;
    snprintf(want, sizeof(want), "250 %s", expect);
    if (strcmp(line, want) != 0) {
        fprintf(stderr, "client: round %d: got \"%s\", want \"%s\"\n", round,
                line, want);
        goto end;
    }
    fprintf(stderr, "client: round %d: %d bytes, SHA-256 %s matches\n", round,
            PAYLOAD, expect);
    /* The reader must hold nothing of the layer that is about to go. */
    if (lr->len != 0 || BIO_puts(lr->b, "STOPTLS\r\n") <= 0
        || BIO_flush(lr->b) != 1 || BIO_onion_pop(lr->b) != 1
        || BIO_onion_get_depth(lr->b) != 0)
        goto end;
    ok = 1;
end:
    free(data);
    return ok;
}

int main(void)
{
    struct server_args sa = { -1, NULL, 0 };
    struct line_reader lr = { NULL, { 0 }, 0 };
    SSL_CTX *cctx = NULL;
    pthread_t server;
    BIO *sock = NULL;
    char line[128];
    int fds[2], ok = 0, round, started = 0;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
        perror("socketpair");
        return 1;
    }
    sa.fd = fds[1];
    if ((sock = BIO_new_socket(fds[0], BIO_CLOSE)) == NULL)
        close(fds[0]);
    if (sock == NULL || !example_ctx_pair("localhost", &sa.ctx, &cctx))
        goto end;
    if (pthread_create(&server, NULL, server_main, &sa) != 0)
        goto end;
    started = 1;
    if ((lr.b = BIO_new_onion()) == NULL)
        goto end;
    BIO_push(lr.b, sock);
    sock = NULL;
    if (!read_line(&lr, line, sizeof(line)) || strcmp(line, "220 ready") != 0)
        goto end;
    for (round = 1; round <= ROUNDS; round++)
        if (!client_round(&lr, cctx, round))
            goto end;
    if (BIO_puts(lr.b, "QUIT\r\n") <= 0 || BIO_flush(lr.b) != 1
        || !read_line(&lr, line, sizeof(line)) || strcmp(line, "221 bye") != 0)
        goto end;
    ok = 1;
end:
    if (!ok)
        ERR_print_errors_fp(stderr);
    BIO_free_all(lr.b); /* closes the client's socket: the server sees EOF */
    BIO_free(sock);
    if (started)
        pthread_join(server, NULL);
    else
        close(fds[1]);
    SSL_CTX_free(sa.ctx);
    SSL_CTX_free(cctx);
    ok = ok && sa.ok;
    fprintf(stderr, "starttls: %s\n", ok ? "OK" : "FAILED");
    return ok ? 0 : 1;
}
