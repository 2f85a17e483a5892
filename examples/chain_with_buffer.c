/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * chain_with_buffer: a BIO_f_buffer on top of an onion, on both sides of a
 * socketpair (the server in a thread).  Lines are read with BIO_gets and
 * written with BIO_printf into the buffer; layers are pushed and popped by
 * sending the onion's ctrls to the buffer BIO, which forwards them.
 *
 *      buffer BIO   <- BIO_gets, BIO_printf, BIO_onion_* ctrls
 *      onion BIO    <- depth 0, then 1, then 2
 *      socket BIO
 *
 * Two rules make a push through a buffer safe:
 *  - flush first: bytes still in the buffer's output would otherwise be
 *    encrypted by the new layer instead of going out below it;
 *  - the buffer's input must be empty (BIO_pending() == 0): bytes it read
 *    ahead belong to the new layer and would reach the application.  The
 *    protocol guarantees it here: the client starts its handshake only
 *    after the server's answer to STARTTLS, as in SMTP (RFC 3207).
 */

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "bio_onion.h"
#include "example_certs.h"

#define DEPTH 2
#define LINES 2000

struct server_args {
    int fd;
    SSL_CTX *ctx;
    unsigned char sent[32]; /* SHA-256 of the lines it sent */
    int ok;
};

/* new_chain returns buffer -> onion -> socket over |fd|, or NULL. */
static BIO *new_chain(int fd)
{
    BIO *buffer = BIO_new(BIO_f_buffer());
    BIO *onion = BIO_new_onion();
    BIO *sock = BIO_new_socket(fd, BIO_CLOSE);

    if (buffer == NULL || onion == NULL || sock == NULL) {
        BIO_free(buffer);
        BIO_free(onion);
        if (sock == NULL)
            close(fd);
        BIO_free(sock);
        return NULL;
    }
    return BIO_push(buffer, BIO_push(onion, sock));
}

/* get_line reads a line into |line| without its CRLF; 1 or 0. */
static int get_line(BIO *top, char *line, int size)
{
    int n = BIO_gets(top, line, size);

    if (n < 2 || line[n - 2] != '\r' || line[n - 1] != '\n')
        return 0;
    line[n - 2] = '\0';
    return 1;
}

/* push_layer pushes a layer through the buffer BIO |top|. */
static int push_layer(BIO *top, SSL_CTX *ctx, int client)
{
    SSL *ssl;

    if (BIO_flush(top) != 1 || BIO_pending(top) != 0
        || BIO_onion_push_tls(top, ctx, client) != 1
        || BIO_onion_get_ssl(top, -1, &ssl) != 1)
        return 0;
    if (client
        && (!SSL_set_tlsext_host_name(ssl, "localhost")
            || !SSL_set1_host(ssl, "localhost")))
        return 0;
    return BIO_do_handshake(top) == 1;
}

/* pop_all pops every layer through |top|, innermost first. */
static int pop_all(BIO *top)
{
    if (BIO_flush(top) != 1)
        return 0;
    while (BIO_onion_get_depth(top) > 0)
        if (BIO_onion_pop(top) != 1)
            return 0;
    return 1;
}

static void *server_main(void *arg)
{
    struct server_args *sa = arg;
    BIO *top = new_chain(sa->fd);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    char line[256];
    int i, n;

    if (top == NULL || md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)
        || BIO_puts(top, "220 hello in plaintext\r\n") <= 0
        || BIO_flush(top) != 1)
        goto end;
    while (get_line(top, line, sizeof(line))) {
        if (strcmp(line, "STARTTLS") == 0) {
            /* The answer goes out in the clear, then the layer comes. */
            if (BIO_puts(top, "220 go ahead\r\n") <= 0
                || !push_layer(top, sa->ctx, 0))
                goto end;
        } else if (strcmp(line, "LINES") == 0) {
            for (i = 0; i < LINES; i++) {
                n = BIO_snprintf(line, sizeof(line), "%d %.*s\r\n", i, i % 200,
                                 "the quick brown fox jumps over "
                                 "the lazy dog, the quick brown fox jumps "
                                 "over the lazy dog, the quick brown fox "
                                 "jumps over the lazy dog, the quick brown "
                                 "fox jumps over the lazy dog, the quick "
                                 "brown fox jumps over the lazy dog.");
                if (n <= 0 || BIO_write(top, line, n) != n
                    || !EVP_DigestUpdate(md, line, (size_t)n))
                    goto end;
            }
            if (BIO_puts(top, ".\r\n") <= 0 || BIO_flush(top) != 1)
                goto end;
        } else if (strcmp(line, "QUIT") == 0) {
            sa->ok = BIO_puts(top, "221 bye\r\n") > 0 && pop_all(top)
                && EVP_DigestFinal_ex(md, sa->sent, NULL);
            break;
        }
    }
end:
    if (!sa->ok)
        ERR_print_errors_fp(stderr);
    EVP_MD_CTX_free(md);
    BIO_free_all(top);
    return NULL;
}

/* client_lines asks for the lines and hashes them as BIO_gets gives them. */
static int client_lines(BIO *top, unsigned char digest[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    char line[256];
    int n, count = 0, ok = 0;

    if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)
        || BIO_puts(top, "LINES\r\n") <= 0 || BIO_flush(top) != 1)
        goto end;
    while ((n = BIO_gets(top, line, sizeof(line))) > 0
           && strcmp(line, ".\r\n") != 0) {
        if (!EVP_DigestUpdate(md, line, (size_t)n))
            goto end;
        count++;
    }
    ok = n > 0 && count == LINES && EVP_DigestFinal_ex(md, digest, NULL);
end:
    EVP_MD_CTX_free(md);
    return ok;
}

int main(void)
{
    struct server_args sa = { -1, NULL, { 0 }, 0 };
    unsigned char got[32];
    SSL_CTX *cctx = NULL;
    pthread_t server;
    BIO *top = NULL;
    char line[256];
    int fds[2], depth, ok = 0, started = 0;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
        perror("socketpair");
        return 1;
    }
    sa.fd = fds[1];
    top = new_chain(fds[0]);
    if (top == NULL || !example_ctx_pair("localhost", &sa.ctx, &cctx))
        goto end;
    if (pthread_create(&server, NULL, server_main, &sa) != 0)
        goto end;
    started = 1;
    if (!get_line(top, line, sizeof(line))
        || strcmp(line, "220 hello in plaintext") != 0)
        goto end;
    for (depth = 1; depth <= DEPTH; depth++) {
        /* Wait for the answer: the buffer then holds nothing of the layer. */
        if (BIO_puts(top, "STARTTLS\r\n") <= 0 || BIO_flush(top) != 1
            || !get_line(top, line, sizeof(line))
            || strcmp(line, "220 go ahead") != 0 || !push_layer(top, cctx, 1)
            || BIO_onion_get_depth(top) != depth)
            goto end;
    }
    example_print_layers("client", BIO_next(top));
    if (!client_lines(top, got))
        goto end;
    if (BIO_puts(top, "QUIT\r\n") <= 0 || BIO_flush(top) != 1
        || !get_line(top, line, sizeof(line)) || strcmp(line, "221 bye") != 0
        || !pop_all(top))
        goto end;
    ok = 1;
end:
    if (!ok)
        ERR_print_errors_fp(stderr);
    BIO_free_all(top);
    if (started)
        pthread_join(server, NULL);
    else
        close(fds[1]);
    SSL_CTX_free(sa.ctx);
    SSL_CTX_free(cctx);
    if (ok && sa.ok && memcmp(got, sa.sent, sizeof(got)) == 0)
        fprintf(stderr,
                "chain_with_buffer: %d lines through BIO_gets at "
                "depth %d, SHA-256 matches\n",
                LINES, DEPTH);
    else
        ok = 0;
    fprintf(stderr, "chain_with_buffer: %s\n", ok ? "OK" : "FAILED");
    return ok ? 0 : 1;
}
