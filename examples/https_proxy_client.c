/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * https_proxy_client: fetch https://ORIGIN/PATH through an HTTPS proxy.
 * TLS to the proxy, "CONNECT origin" inside it, TLS to the origin inside
 * the tunnel, then GET.  The body goes to stdout.
 *
 *   usage: https_proxy_client PROXY_HOST:PORT ORIGIN_HOST:PORT PATH [CAFILE]
 *
 * Both certificates are verified, with their host names, against CAFILE or
 * the system's trust store.
 */

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bio_onion.h"

/* add_layer pushes a TLS layer for |hostport| and completes its handshake. */
static int add_layer(BIO *onion, SSL_CTX *ctx, const char *hostport)
{
    char host[256];
    SSL *ssl;

    /* The host name is what comes before the last ':'. */
    snprintf(host, sizeof(host), "%s", hostport);
    if (strrchr(host, ':') != NULL)
        *strrchr(host, ':') = '\0';
    if (BIO_onion_push_tls(onion, ctx, 1) != 1
        || BIO_onion_get_ssl(onion, -1, &ssl) != 1
        || !SSL_set_tlsext_host_name(ssl, host) || !SSL_set1_host(ssl, host))
        return 0;
    if (BIO_do_handshake(onion) != 1) {
        fprintf(stderr, "TLS to %s failed (layer %d)\n", hostport,
                BIO_onion_get_error_layer(onion));
        return 0;
    }
    return 1;
}

/*
 * read_head reads an HTTP response head, byte by byte so that nothing
 * after the blank line is consumed, and returns its status code or -1.
 * |head| is left holding the status line.
 */
static int read_head(BIO *onion, char *head, size_t size)
{
    size_t n = 0;
    int status = -1;

    while (n < 4 || memcmp(head + n - 4, "\r\n\r\n", 4) != 0) {
        if (n == size - 1 || BIO_read(onion, head + n, 1) != 1)
            break;
        n++;
    }
    head[n] = '\0';
    if (n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0
        && sscanf(head, "HTTP/%*d.%*d %d", &status) != 1)
        status = -1;
    head[strcspn(head, "\r\n")] = '\0';
    return status;
}

int main(int argc, char **argv)
{
    SSL_CTX *ctx = NULL;
    BIO *onion = NULL, *conn = NULL;
    char head[8192], buf[16384];
    int n, status, ok = 0;

    if (argc < 4 || argc > 5) {
        fprintf(stderr,
                "usage: %s PROXY_HOST:PORT ORIGIN_HOST:PORT PATH "
                "[CAFILE]\n",
                argv[0]);
        return 2;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL
        || !(argc == 5 ? SSL_CTX_load_verify_file(ctx, argv[4])
                       : SSL_CTX_set_default_verify_paths(ctx)))
        goto end;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);

    /* onion -> connect BIO: TCP to the proxy, then TLS with it. */
    if ((onion = BIO_new_onion()) == NULL
        || (conn = BIO_new_connect(argv[1])) == NULL)
        goto end;
    BIO_push(onion, conn);
    if (BIO_do_connect(conn) != 1 || !add_layer(onion, ctx, argv[1]))
        goto end;

    /* Ask the proxy for a tunnel; a 2xx answer opens it. */
    if (BIO_printf(onion, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", argv[2],
                   argv[2])
        <= 0)
        goto end;
    status = read_head(onion, head, sizeof(head));
    if (status < 200 || status > 299) {
        fprintf(stderr, "proxy refused CONNECT: \"%s\"\n", head);
        goto end;
    }

    /* TLS with the origin, inside the proxy's TLS. */
    if (!add_layer(onion, ctx, argv[2]))
        goto end;
    if (BIO_printf(onion, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", argv[3],
                   argv[2])
        <= 0)
        goto end;
    if (read_head(onion, head, sizeof(head)) != 200) {
        fprintf(stderr, "origin answered: \"%s\"\n", head);
        goto end;
    }
    /* HTTP/1.0: the body ends when the origin closes its layer. */
    while ((n = BIO_read(onion, buf, sizeof(buf))) > 0)
        if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
            goto end;
    if (!BIO_onion_peer_closed(onion)) {
        fprintf(stderr, "the body is truncated (error at layer %d)\n",
                BIO_onion_get_error_layer(onion));
        goto end;
    }
    ok = fflush(stdout) == 0;
end:
    if (!ok)
        ERR_print_errors_fp(stderr);
    BIO_free_all(onion);
    SSL_CTX_free(ctx);
    return ok ? 0 : 1;
}
