/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * onion-client's steps: TLS layers, HTTP CONNECT tunnels and STARTTLS
 * lines, from the outermost inward, each completed before the next.
 */

/* memmem. */
#define _GNU_SOURCE

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <bio_onion.h>

#include "apps_client.h"

/* Reporting. */

void client_fail(CLIENT *c, const char *doing)
{
    char label[256], why[512];

    apps_failure_reason(c->onion, label, sizeof(label), why, sizeof(why));
    if (doing != NULL)
        fprintf(stderr, "%s: %s: %s: %s\n", apps_prog, label, doing, why);
    else
        fprintf(stderr, "%s: %s: %s\n", apps_prog, label, why);
}

void client_layer_event(BIO *b, int event, int layer, void *arg)
{
    CLIENT *c = arg;

    if (c->quiet)
        return;
    if (event == BIO_ONION_EV_HANDSHAKE_DONE) {
        apps_print_layer(stderr, b, layer);
    } else if (event == BIO_ONION_EV_POPPED) {
        SSL *ssl = NULL;
        char label[256];

        BIO_onion_get_ssl(b, layer, &ssl);
        apps_layer_label(label, sizeof(label), layer, apps_ssl_spec(ssl));
        fprintf(stderr, "%s: %s: closed\n", apps_prog, label);
    }
}

/* Blocking steps over the non-blocking socket. */

/*
 * wait_io waits until the socket can do what the onion's last operation
 * asked for; returns 0 on a poll failure.  Buffered bytes inside the onion
 * (BIO_pending) make a read possible without the socket.
 */
static int wait_io(CLIENT *c)
{
    struct pollfd p;

    p.fd = c->fd;
    p.events = BIO_should_write(c->onion) ? POLLOUT : POLLIN;
    p.revents = 0;
    if (p.events == POLLIN && BIO_pending(c->onion) > 0)
        return 1;
    while (poll(&p, 1, -1) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "%s: poll: %s\n", apps_prog, strerror(errno));
            return 0;
        }
    }
    return 1;
}

static int write_blocking(CLIENT *c, const void *data, size_t len,
                          const char *doing)
{
    const unsigned char *p = data;

    while (len > 0) {
        int n = BIO_write(c->onion, p, (int)len);

        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (!BIO_should_retry(c->onion)) {
            client_fail(c, doing);
            return 0;
        } else if (!wait_io(c)) {
            return 0;
        }
    }
    return 1;
}

/*
 * cork holds back (|on|) or sends (!|on|) partial TCP segments, so that a
 * STARTTLS line and the ClientHello after it leave in one segment and reach
 * the peer in one read: the peer must hand the bytes it read past the line
 * to its new layer.
 */
void client_cork(CLIENT *c, int on)
{
    setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}

int client_push_layer(CLIENT *c, APPS_LAYER_SPEC *spec, int wait)
{
    SSL *ssl = apps_layer_new_ssl(spec, 1, c->default_name);
    int r;

    if (ssl == NULL)
        return 0;
    r = BIO_onion_push_ssl_with_data(c->onion, ssl, APPS_BUF_PTR(&c->leftover),
                                     c->leftover.len);
    if (r != 1) {
        char label[256];

        apps_layer_label(label, sizeof(label), BIO_onion_get_depth(c->onion),
                         spec);
        SSL_free(ssl);
        fprintf(stderr, "%s: %s: cannot push the layer\n", apps_prog, label);
        ERR_print_errors_fp(stderr);
        return 0;
    }
    apps_buf_consume(&c->leftover, c->leftover.len);
    c->tx_bol = c->rx_bol = 1;
    c->hs_pending = 1;
    do {
        r = BIO_do_handshake(c->onion);
        /* The first flight is written: a STARTTLS line goes out with it. */
        client_cork(c, 0);
        if (r == 1) {
            c->hs_pending = 0;
            break;
        }
        if (!BIO_should_retry(c->onion)) {
            client_fail(c, NULL);
            return 0;
        }
        if (wait && !wait_io(c))
            return 0;
    } while (wait);
    return 1;
}

/*
 * http_connect sends a CONNECT request over the current layers and reads
 * the reply head; bytes after it are kept for the next layer.
 */
static int http_connect(CLIENT *c, const char *target)
{
    char req[1024], line[256];
    APPS_BUF head = { 0 };
    unsigned char buf[4096];
    const unsigned char *end = NULL;
    size_t hlen;
    char *host = NULL, *port = NULL;
    int ok = 0, status = 0;

    if (!apps_split_hostport(target, &host, &port, 0)) {
        fprintf(stderr, "%s: -http-connect %s: expected HOST:PORT\n", apps_prog,
                target);
        goto end;
    }
    snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n",
             target, target);
    if (!write_blocking(c, req, strlen(req), "-http-connect"))
        goto end;
    while (end == NULL) {
        int n = BIO_read(c->onion, buf, sizeof(buf));

        if (n > 0) {
            if (!apps_buf_append(&head, buf, (size_t)n))
                goto end;
            end = memmem(APPS_BUF_PTR(&head), head.len, "\r\n\r\n", 4);
            if (end == NULL && head.len > HTTP_HEAD_MAX) {
                fprintf(stderr, "%s: -http-connect %s: reply head too long\n",
                        apps_prog, target);
                goto end;
            }
        } else if (n == 0) {
            fprintf(stderr,
                    "%s: -http-connect %s: the proxy closed the connection\n",
                    apps_prog, target);
            goto end;
        } else if (!BIO_should_retry(c->onion)) {
            client_fail(c, "-http-connect");
            goto end;
        } else if (!wait_io(c)) {
            goto end;
        }
    }
    hlen = (size_t)(end - APPS_BUF_PTR(&head)) + 4;
    snprintf(line, sizeof(line), "%.*s",
             (int)strcspn((const char *)APPS_BUF_PTR(&head), "\r\n"),
             (const char *)APPS_BUF_PTR(&head));
    if (sscanf(line, "HTTP/1.%*1[01] %3d", &status) != 1 || status < 200
        || status > 299) {
        fprintf(stderr, "%s: -http-connect %s: proxy answered: %s\n", apps_prog,
                target, line);
        goto end;
    }
    if (!c->quiet)
        fprintf(stderr, "%s: tunnel to %s: %s\n", apps_prog, target, line);
    if (!apps_buf_append(&c->leftover, APPS_BUF_PTR(&head) + hlen,
                         head.len - hlen))
        goto end;
    free(c->default_name);
    c->default_name = host;
    host = NULL;
    ok = 1;
end:
    apps_buf_free(&head);
    free(host);
    free(port);
    return ok;
}

int client_run_steps(CLIENT *c)
{
    int i, li = 0;

    for (i = 0; i < c->steps.n; i++) {
        APPS_STEP *s = &c->steps.step[i];

        switch (s->kind) {
        case APPS_STEP_LAYER:
            if (!client_push_layer(c, s->layer, 1))
                return 0;
            li++;
            break;
        case APPS_STEP_HTTP_CONNECT:
            if (!http_connect(c, s->target))
                return 0;
            break;
        case APPS_STEP_STARTTLS:
            client_cork(c, 1);
            if (!write_blocking(c, "STARTTLS\r\n", 10, "-starttls"))
                return 0;
            break;
        }
    }
    c->next_layer = li;
    return 1;
}
