/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * The connections of onion-server: setup steps, modes and in-band control
 * lines, each step driven by BIO_should_read, BIO_should_write and
 * BIO_pending of the connection's onion BIO.
 */

/* memmem. */
#define _GNU_SOURCE

#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <bio_onion.h>

#include "apps_server.h"

/* Logging. */

static void conn_fail(CONN *c, const char *doing)
{
    char label[256], why[512];

    apps_failure_reason(c->onion, label, sizeof(label), why, sizeof(why));
    fprintf(stderr, "%s: %s: %s: %s%s%s\n", apps_prog, c->peer, label,
            doing ? doing : "", doing ? ": " : "", why);
    c->failed = 1;
    c->phase = PH_END;
}

void conn_fail_msg(CONN *c, const char *fmt, ...)
{
    int d = BIO_onion_get_depth(c->onion);
    char label[256] = "plaintext";
    SSL *ssl = NULL;
    va_list ap;

    if (d > 0 && BIO_onion_get_ssl(c->onion, d - 1, &ssl) == 1)
        apps_layer_label(label, sizeof(label), d - 1, apps_ssl_spec(ssl));
    ERR_clear_error();
    fprintf(stderr, "%s: %s: %s: ", apps_prog, c->peer, label);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    c->failed = 1;
    c->phase = PH_END;
}

static void layer_event(BIO *b, int event, int layer, void *arg)
{
    CONN *c = arg;

    if (c->srv->quiet || event != BIO_ONION_EV_HANDSHAKE_DONE)
        return;
    fprintf(stderr, "%s: %s: ", apps_prog, c->peer);
    {
        char line[1024];

        apps_describe_layer(line, sizeof(line), b, layer);
        fprintf(stderr, "%s\n", line);
    }
}

static void note_want(CONN *c)
{
    c->want |= BIO_should_write(c->onion) ? POLLOUT : POLLIN;
}

/* Output towards the innermost layer. */

static int out_add(CONN *c, const void *p, size_t n)
{
    if (!apps_buf_append(&c->out, p, n)) {
        conn_fail_msg(c, "out of memory");
        return 0;
    }
    return 1;
}

static int flush_out(CONN *c)
{
    int progress = 0;

    for (;;) {
        size_t len;
        int n;

        if (c->out.len < OUT_LIMIT && c->file_fd >= 0) {
            unsigned char buf[65536];
            size_t want = c->file_left < (off_t)sizeof(buf)
                ? (size_t)c->file_left
                : sizeof(buf);
            ssize_t r = read(c->file_fd, buf, want);

            if (r <= 0) {
                conn_fail_msg(c, "-file: read failed: %s",
                              r < 0 ? strerror(errno) : "file shrank");
                return 1;
            }
            c->file_left -= r;
            if (c->file_left == 0) {
                close(c->file_fd);
                c->file_fd = -1;
            }
            if (!out_add(c, buf, (size_t)r))
                return 1;
        }
        if (c->out.len == 0)
            return progress;
        len = c->wlen ? c->wlen : c->out.len < IO_CHUNK ? c->out.len : IO_CHUNK;
        n = BIO_write(c->onion, APPS_BUF_PTR(&c->out), (int)len);
        if (n <= 0) {
            if (BIO_should_retry(c->onion)) {
                c->wlen = len;
                note_want(c);
                return progress;
            }
            conn_fail(c, NULL);
            return 1;
        }
        c->wlen = (size_t)n < len ? len - (size_t)n : 0;
        apps_buf_consume(&c->out, (size_t)n);
        progress = 1;
    }
}

static int out_idle(const CONN *c)
{
    return c->out.len == 0 && c->wlen == 0 && c->file_fd < 0;
}

/* Layers. */

static int push_next(CONN *c)
{
    SERVER *s = c->srv;
    APPS_LAYER_SPEC *spec;
    SSL *ssl;

    if (s->steps.nlayers == 0) {
        conn_fail_msg(c, "STARTTLS: no -layer to push");
        return 0;
    }
    spec = s->steps
               .layers[c->next_layer < s->steps.nlayers ? c->next_layer
                                                        : s->steps.nlayers - 1];
    c->next_layer++;
    if ((ssl = apps_layer_new_ssl(spec, 0, NULL)) == NULL) {
        conn_fail_msg(c, "cannot create a layer");
        return 0;
    }
    /* Bytes read past the line that asked for this layer are its start. */
    if (BIO_onion_push_ssl_with_data(c->onion, ssl, APPS_BUF_PTR(&c->in),
                                     c->in.len)
        != 1) {
        SSL_free(ssl);
        conn_fail(c, "push");
        return 0;
    }
    if (!c->srv->quiet)
        fprintf(stderr,
                "%s: %s: STARTTLS: layer %d pushed with %zu bytes read past "
                "the line\n",
                apps_prog, c->peer, BIO_onion_get_depth(c->onion) - 1,
                c->in.len);
    apps_buf_consume(&c->in, c->in.len);
    c->in_bol = 1;
    c->hs_pending = 1;
    return 1;
}

static int drive_handshake(CONN *c)
{
    int r = BIO_do_handshake(c->onion);

    if (r == 1) {
        c->hs_pending = 0;
        return 1;
    }
    if (BIO_should_retry(c->onion)) {
        note_want(c);
        return 0;
    }
    conn_fail(c, NULL);
    return 1;
}

static int drive_pop(CONN *c)
{
    int r;

    if (BIO_onion_get_depth(c->onion) == 0) {
        c->popping = 0;
        return 1;
    }
    r = BIO_onion_pop(c->onion);
    if (r == 1) {
        /* What the popped layer still held was its own. */
        apps_buf_consume(&c->in, c->in.len);
        c->popping = 0;
        c->peer_closed = 0;
        c->in_bol = 1;
        return 1;
    }
    if (BIO_should_retry(c->onion)) {
        note_want(c);
        return 0;
    }
    conn_fail(c, "closing");
    return 1;
}

/* One read from the innermost layer into |in| (|discard|: thrown away). */
static int do_read(CONN *c, int discard)
{
    unsigned char buf[IO_CHUNK];
    int n = BIO_read(c->onion, buf, sizeof(buf));

    if (n > 0) {
        if (!discard && !apps_buf_append(&c->in, buf, (size_t)n)) {
            conn_fail_msg(c, "out of memory");
            return 1;
        }
        return 1;
    }
    if (n == 0 && BIO_onion_get_depth(c->onion) > 0
        && BIO_onion_peer_closed(c->onion)) {
        c->peer_closed = 1;
        return 1;
    }
    if (n == 0) {
        c->eof = 1;
        return 1;
    }
    if (BIO_should_retry(c->onion)) {
        note_want(c);
        return 0;
    }
    conn_fail(c, NULL);
    return 1;
}

/* The setup steps. */

static int setup_http_connect(CONN *c)
{
    const unsigned char *end;
    char line[512], target[300];
    size_t hlen, l;
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";

    end = memmem(APPS_BUF_PTR(&c->in), c->in.len, "\r\n\r\n", 4);
    if (end == NULL) {
        if (c->in.len > HTTP_HEAD_MAX)
            conn_fail_msg(c, "-http-connect: request head too long");
        return 0;
    }
    hlen = (size_t)(end - APPS_BUF_PTR(&c->in)) + 4;
    l = strcspn((const char *)APPS_BUF_PTR(&c->in), "\r\n");
    snprintf(line, sizeof(line), "%.*s", (int)l,
             (const char *)APPS_BUF_PTR(&c->in));
    if (sscanf(line, "CONNECT %299s HTTP/1.%*1[01]", target) != 1) {
        static const char bad[] = "HTTP/1.1 400 Bad Request\r\n"
                                  "Content-Length: 0\r\n"
                                  "Connection: close\r\n\r\n";

        BIO_write(c->onion, bad, sizeof(bad) - 1);
        conn_fail_msg(c, "-http-connect: not a CONNECT request: '%s'", line);
        return 1;
    }
    apps_buf_consume(&c->in, hlen);
    if (!out_add(c, ok, sizeof(ok) - 1))
        return 1;
    c->in_bol = 1;
    c->step++;
    return 1;
}

static int setup_starttls(CONN *c)
{
    enum apps_ctl ctl;
    size_t cl, plain;

    plain = apps_ctl_find(APPS_BUF_PTR(&c->in), c->in.len, 1, 0, &ctl, &cl);
    if (plain == 0 && ctl == APPS_CTL_MORE)
        return 0;
    if (plain == 0 && ctl == APPS_CTL_STARTTLS) {
        apps_buf_consume(&c->in, cl);
        c->step++;
        return 1;
    }
    if (c->in.len == 0)
        return 0;
    conn_fail_msg(c, "-starttls: expected the line STARTTLS");
    return 1;
}

static int setup_step(CONN *c)
{
    APPS_STEP *st;

    if (!out_idle(c) || c->hs_pending)
        return 0;
    if (c->step >= c->srv->steps.n) {
        c->phase = PH_DATA;
        c->in_bol = 1;
        return 1;
    }
    st = &c->srv->steps.step[c->step];
    switch (st->kind) {
    case APPS_STEP_LAYER:
        c->step++;
        c->next_layer++;
        {
            SSL *ssl = apps_layer_new_ssl(st->layer, 0, NULL);

            if (ssl == NULL) {
                conn_fail_msg(c, "cannot create a layer");
                return 1;
            }
            if (BIO_onion_push_ssl_with_data(c->onion, ssl,
                                             APPS_BUF_PTR(&c->in), c->in.len)
                != 1) {
                SSL_free(ssl);
                conn_fail(c, "push");
                return 1;
            }
        }
        if (!c->srv->quiet && c->step >= 2
            && c->srv->steps.step[c->step - 2].kind == APPS_STEP_STARTTLS)
            fprintf(stderr,
                    "%s: %s: STARTTLS: layer %d pushed with %zu bytes read "
                    "past the line\n",
                    apps_prog, c->peer, BIO_onion_get_depth(c->onion) - 1,
                    c->in.len);
        apps_buf_consume(&c->in, c->in.len);
        c->hs_pending = 1;
        return 1;
    case APPS_STEP_HTTP_CONNECT:
        return setup_http_connect(c);
    case APPS_STEP_STARTTLS:
        return setup_starttls(c);
    }
    return 0;
}

/* Modes. */

static void www_page(CONN *c, APPS_BUF *body)
{
    int d = BIO_onion_get_depth(c->onion), i;
    char line[1200];

    snprintf(line, sizeof(line), "onion-server %s: %d TLS layer%s, %s\n",
             PACKAGE_VERSION, d, d == 1 ? "" : "s", c->peer);
    apps_buf_append(body, line, strlen(line));
    for (i = 0; i < d; i++) {
        apps_describe_layer(line, sizeof(line) - 1, c->onion, i);
        strcat(line, "\n");
        apps_buf_append(body, line, strlen(line));
    }
}

static int http_request(CONN *c)
{
    const unsigned char *end;
    char line[1024], method[16], target[1000], head[512];
    size_t hlen, l;
    int minor = 1;
    const char *p, *hend;

    end = memmem(APPS_BUF_PTR(&c->in), c->in.len, "\r\n\r\n", 4);
    if (end == NULL) {
        if (c->in.len > HTTP_HEAD_MAX)
            conn_fail_msg(c, "HTTP request head too long");
        return 0;
    }
    hlen = (size_t)(end - APPS_BUF_PTR(&c->in)) + 4;
    l = strcspn((const char *)APPS_BUF_PTR(&c->in), "\r\n");
    snprintf(line, sizeof(line), "%.*s", (int)l,
             (const char *)APPS_BUF_PTR(&c->in));
    /* Connection: close, and HTTP/1.0, end the connection after the reply. */
    c->http_close = 0;
    p = (const char *)APPS_BUF_PTR(&c->in);
    hend = (const char *)end;
    while ((p = memchr(p, '\n', (size_t)(hend - p))) != NULL) {
        p++;
        if (hend - p >= 11 && strncasecmp(p, "Connection:", 11) == 0) {
            const char *v = p + 11;

            while (v < hend && (*v == ' ' || *v == '\t'))
                v++;
            if (hend - v >= 5 && strncasecmp(v, "close", 5) == 0)
                c->http_close = 1;
        }
    }
    if (sscanf(line, "%15s %999s HTTP/1.%d", method, target, &minor) != 3) {
        conn_fail_msg(c, "not an HTTP request: '%s'", line);
        return 1;
    }
    apps_buf_consume(&c->in, hlen);
    if (minor == 0)
        c->http_close = 1;
    if (strcmp(method, "GET") != 0) {
        snprintf(head, sizeof(head),
                 "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\n"
                 "Content-Length: 0\r\nConnection: close\r\n\r\n");
        c->http_close = 1;
        return out_add(c, head, strlen(head));
    }
    if (c->srv->mode == MODE_WWW) {
        APPS_BUF body = { 0 };
        int ok;

        www_page(c, &body);
        snprintf(head, sizeof(head),
                 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                 "Content-Length: %zu\r\n%s\r\n",
                 body.len, c->http_close ? "Connection: close\r\n" : "");
        ok = out_add(c, head, strlen(head))
            && out_add(c, APPS_BUF_PTR(&body), body.len);
        apps_buf_free(&body);
        return ok;
    } else {
        struct stat sb;
        int fd = open(c->srv->file, O_RDONLY);

        if (fd < 0 || fstat(fd, &sb) != 0) {
            fprintf(stderr, "%s: %s: -file %s: %s\n", apps_prog, c->peer,
                    c->srv->file, strerror(errno));
            if (fd >= 0)
                close(fd);
            snprintf(head, sizeof(head),
                     "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n%s\r\n",
                     c->http_close ? "Connection: close\r\n" : "");
            return out_add(c, head, strlen(head));
        }
        snprintf(head, sizeof(head),
                 "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                 "Content-Length: %lld\r\n%s\r\n",
                 (long long)sb.st_size,
                 c->http_close ? "Connection: close\r\n" : "");
        if (sb.st_size > 0) {
            c->file_fd = fd;
            c->file_left = sb.st_size;
        } else {
            close(fd);
        }
        return out_add(c, head, strlen(head));
    }
}

/*
 * data_step handles what was read in the current mode; 1 on progress.
 * Control lines wait in c->ctl until the output before them has gone out
 * on the layer they belong to.
 */
static int data_step(CONN *c)
{
    int progress = 0;

    if (c->ctl != APPS_CTL_NONE) {
        if (!out_idle(c))
            return 0;
        if (c->ctl == APPS_CTL_STOPTLS) {
            if (BIO_onion_get_depth(c->onion) == 0) {
                conn_fail_msg(c, "STOPTLS: no layer to pop");
                return 1;
            }
            c->popping = 1;
        } else if (!push_next(c)) {
            return 1;
        }
        c->ctl = APPS_CTL_NONE;
        return 1;
    }
    if (c->popping || c->hs_pending)
        return 0;
    while (c->in.len > 0 && c->phase == PH_DATA && c->ctl == APPS_CTL_NONE
           && c->out.len < OUT_LIMIT) {
        enum apps_ctl ctl = APPS_CTL_NONE;
        size_t cl = 0, plain = c->in.len;

        if (c->srv->inband) {
            int bol = c->srv->mode == MODE_ECHO ? c->in_bol : 1;

            plain = apps_ctl_find(APPS_BUF_PTR(&c->in), c->in.len, bol,
                                  c->peer_closed || c->eof, &ctl, &cl);
            if (c->srv->mode != MODE_ECHO && plain > 0)
                plain = c->in.len, ctl = APPS_CTL_NONE;
        }
        if (plain > 0 && c->srv->mode == MODE_ECHO) {
            if (!out_add(c, APPS_BUF_PTR(&c->in), plain))
                return 1;
            c->in_bol = apps_bol_after(APPS_BUF_PTR(&c->in), plain, c->in_bol);
            apps_buf_consume(&c->in, plain);
            progress = 1;
            continue;
        }
        if (plain > 0) {
            /* One HTTP request at a time: the next waits for this reply. */
            if (!out_idle(c))
                return progress;
            return http_request(c) | progress;
        }
        if (ctl == APPS_CTL_MORE)
            return progress;
        apps_buf_consume(&c->in, cl);
        c->in_bol = 1;
        c->ctl = ctl;
        return 1;
    }
    if (c->srv->mode != MODE_ECHO && c->http_close && out_idle(c)
        && c->phase == PH_DATA) {
        c->phase = PH_CLOSING;
        return 1;
    }
    return progress;
}

/* The handshake and a pop read too. */
int conn_reads(const CONN *c)
{
    if (c->popping || c->hs_pending)
        return 1;
    return !c->peer_closed && !c->eof && !c->hs_pending
        && c->ctl == APPS_CTL_NONE && c->out.len < OUT_LIMIT
        && c->in.len < HTTP_HEAD_MAX * 2 && c->phase != PH_CLOSING;
}

int conn_run(CONN *c)
{
    int progress, rounds = 0;

    c->busy = 0;
    do {
        int reading;

        /* One busy connection must not starve the others: come back later. */
        if (++rounds > CONN_ROUNDS) {
            c->busy = 1;
            break;
        }
        progress = 0;
        c->want = 0;
        if (c->phase == PH_END)
            break;
        progress |= flush_out(c);
        if (c->phase == PH_END)
            break;
        if (c->hs_pending && !c->popping)
            progress |= drive_handshake(c);
        if (c->phase == PH_END)
            break;
        if (c->popping
            || (c->phase == PH_CLOSING && BIO_onion_get_depth(c->onion) > 0
                && out_idle(c))) {
            c->popping = 1;
            progress |= drive_pop(c);
            if (c->phase == PH_END)
                break;
            if (c->popping) /* the pop waits for a read: take and drop it */
                progress |= do_read(c, 1);
            continue;
        }
        if (c->phase == PH_CLOSING) {
            if (!out_idle(c))
                continue;
            shutdown(c->fd, SHUT_WR);
            c->phase = PH_DRAIN;
            progress = 1;
            continue;
        }
        reading = conn_reads(c) && !c->hs_pending;
        if (reading)
            progress |= do_read(c, c->phase == PH_DRAIN);
        if (c->phase == PH_END)
            break;
        if (c->phase == PH_DRAIN) {
            if (c->eof)
                c->phase = PH_END;
            continue;
        }
        if (c->phase == PH_SETUP) {
            progress |= setup_step(c);
            if (c->phase != PH_END && (c->peer_closed || c->eof)
                && c->phase == PH_SETUP && !progress) {
                conn_fail_msg(c,
                              c->eof ? "connection closed during setup"
                                     : "layer closed by the peer during setup");
                break;
            }
        } else if (c->phase == PH_DATA) {
            progress |= data_step(c);
        }
        if (c->phase == PH_END)
            break;
        if (c->phase == PH_DATA && c->ctl == APPS_CTL_NONE && out_idle(c)
            && !c->popping) {
            if (c->peer_closed) {
                /* Answer the peer's close; the session goes on below. */
                c->popping = 1;
                progress = 1;
            } else if (c->eof) {
                c->phase = PH_END;
            }
        }
    } while (progress && c->phase != PH_END);
    return c->phase == PH_END;
}

CONN *conn_new(SERVER *s, int fd, const struct sockaddr_storage *sa)
{
    CONN *c = calloc(1, sizeof(*c));
    BIO *sock = NULL;
    char host[64] = "?";

    if (c == NULL)
        return NULL;
    c->srv = s;
    c->fd = fd;
    c->file_fd = -1;
    c->in_bol = 1;
    c->last = time(NULL);
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        snprintf(c->peer, sizeof(c->peer), "%s:%u", host, ntohs(a->sin_port));
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        snprintf(c->peer, sizeof(c->peer), "[%s]:%u", host,
                 ntohs(a->sin6_port));
    }
    if (!apps_set_nonblock(fd) || (sock = BIO_new_socket(fd, BIO_CLOSE)) == NULL
        || (c->onion = BIO_new_onion()) == NULL) {
        BIO_free(sock);
        free(c);
        return NULL;
    }
    BIO_push(c->onion, sock);
    BIO_onion_set_callback(c->onion, layer_event, c);
    return c;
}

void conn_free(CONN *c)
{
    if (c->file_fd >= 0)
        close(c->file_fd);
    BIO_free_all(c->onion); /* closes the socket */
    apps_buf_free(&c->in);
    apps_buf_free(&c->out);
    free(c);
}
