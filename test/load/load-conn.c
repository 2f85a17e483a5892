/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * One load-client connection: a well-behaved client (layers, data checked
 * byte for byte, STARTTLS and STOPTLS lines, a clean close) or a hostile
 * one (garbage, silence, a reset), as a non-blocking state machine driven
 * by the poll loop of load-client.c.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include <bio_onion.h>

#include "load-client.h"

const char *const lc_state_names[] = { "connect", "setup", "step",  "send",
                                       "echo",    "ctl",   "pop",   "handshake",
                                       "hold",    "close", "drain", "garbage",
                                       "stall",   "done" };

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t *s, uint64_t n)
{
    return rnd(s) % n;
}

static void fail(LC_CONN *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void conn_free(LC *lc, LC_CONN *c)
{
    if (c->established) {
        lc->established_now--;
        c->established = 0;
    }
    if (c->onion != NULL) {
        BIO_free_all(c->onion);
        lc->open_now--;
    }
    c->onion = c->sock = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    EVP_MD_CTX_free(c->sha_sent);
    EVP_MD_CTX_free(c->sha_echo);
    c->sha_sent = c->sha_echo = NULL;
    free(c->out);
    c->out = NULL;
}

static void fail(LC_CONN *c, const char *fmt, ...)
{
    va_list ap;
    char errs[256] = "";
    unsigned long e = ERR_peek_last_error();

    if (e != 0)
        ERR_error_string_n(e, errs, sizeof(errs));
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
    if (errs[0] != '\0') {
        size_t n = strlen(c->why);

        snprintf(c->why + n, sizeof(c->why) - n, " (%s)", errs);
    }
    ERR_clear_error();
    c->failed = 1;
    c->state = S_DONE;
}

static void enter(LC_CONN *c, enum lc_state s)
{
    c->state = s;
    c->since = time(NULL);
}

/* The next layer of the client: verified against the CA and host name. */
static int push_layer(LC *lc, LC_CONN *c)
{
    SSL *ssl = NULL;

    if (BIO_onion_push_tls(c->onion, lc->ctx, 1) != 1
        || BIO_onion_get_ssl(c->onion, -1, &ssl) != 1
        || !SSL_set_tlsext_host_name(ssl, lc->servername)
        || !SSL_set1_host(ssl, lc->servername)) {
        fail(c, "push of layer %d failed", c->depth);
        return 0;
    }
    c->depth++;
    lc->pushes++;
    return 1;
}

int start_conn(LC *lc, LC_CONN *c)
{
    struct sockaddr_in sa;
    int fl;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)lc->port);
    if (inet_pton(AF_INET, lc->host, &sa.sin_addr) != 1) {
        fail(c, "bad address %s", lc->host);
        return 0;
    }
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) {
        fail(c, "socket: %s", strerror(errno));
        return 0;
    }
    fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        fail(c, "fcntl: %s", strerror(errno));
        return 0;
    }
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0
        && errno != EINPROGRESS) {
        fail(c, "connect: %s", strerror(errno));
        return 0;
    }
    c->sock = BIO_new_socket(c->fd, BIO_NOCLOSE);
    c->onion = BIO_new_onion();
    if (c->sock == NULL || c->onion == NULL) {
        BIO_free(c->sock);
        BIO_free(c->onion);
        c->sock = c->onion = NULL;
        fail(c, "out of memory");
        return 0;
    }
    BIO_push(c->onion, c->sock);
    lc->open_now++;
    if (lc->open_now > lc->open_peak)
        lc->open_peak = lc->open_now;
    c->sha_sent = EVP_MD_CTX_new();
    c->sha_echo = EVP_MD_CTX_new();
    if (c->sha_sent == NULL || c->sha_echo == NULL
        || !EVP_DigestInit_ex(c->sha_sent, EVP_sha256(), NULL)
        || !EVP_DigestInit_ex(c->sha_echo, EVP_sha256(), NULL)) {
        fail(c, "SHA-256");
        return 0;
    }
    enter(c, S_CONNECT);
    c->want = POLLOUT;
    return 1;
}

/* Sets c->want from the onion's retry flags; returns 0 (no progress). */
static int retry(LC_CONN *c)
{
    if (BIO_should_write(c->onion))
        c->want = POLLOUT;
    else
        c->want = POLLIN;
    return 0;
}

/* A random chunk of text lines that never starts a control line. */
static int make_chunk(LC_CONN *c, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    free(c->out);
    if ((c->out = malloc(len)) == NULL)
        return 0;
    for (i = 0; i < len; i++) {
        if (i == len - 1 || rnd_below(&c->rng, 64) == 0)
            c->out[i] = '\n';
        else
            c->out[i] = (unsigned char)hex[rnd_below(&c->rng, 16)];
    }
    c->out_len = len;
    c->out_off = c->echo_off = 0;
    return 1;
}

static int do_write(LC_CONN *c)
{
    int n;

    while (c->out_off < c->out_len) {
        n = BIO_write(c->onion, c->out + c->out_off,
                      (int)(c->out_len - c->out_off));
        if (n <= 0) {
            if (BIO_should_retry(c->onion))
                return retry(c);
            fail(c, "write at depth %d failed", c->depth);
            return 0;
        }
        c->out_off += (size_t)n;
    }
    return 1;
}

void good_done(LC *lc, LC_CONN *c)
{
    if (c->kind == K_GOOD && !c->counted) {
        c->counted = 1;
        lc->good_left--;
    }
}

/* One step of a well-behaved client.  Returns 1 on progress. */
static int step_good(LC *lc, LC_CONN *c)
{
    unsigned char buf[LC_BUF];
    int n, r;

    switch (c->state) {
    case S_SETUP:
        while (c->depth < c->setup)
            if (!push_layer(lc, c))
                return 0;
        r = (int)BIO_do_handshake(c->onion);
        if (r <= 0) {
            if (BIO_should_retry(c->onion)) {
                if (c->drop_hs && c->depth > 0) {
                    /* A reset in the middle of a handshake. */
                    struct linger l = { 1, 0 };

                    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
                    conn_free(lc, c);
                    lc->hostile_done++;
                    enter(c, S_DONE);
                    return 1;
                }
                return retry(c);
            }
            fail(c, "handshake of %d layers failed (error layer %d)", c->depth,
                 BIO_onion_get_error_layer(c->onion));
            return 0;
        }
        c->established = 1;
        lc->established_now++;
        if (lc->established_now > lc->established_peak)
            lc->established_peak = lc->established_now;
        if (c->kind == K_STALL) {
            enter(c, S_STALL);
            return 1;
        }
        if (c->kind == K_GARBAGE) {
            enter(c, S_GARBAGE);
            return 1;
        }
        enter(c, S_STEP);
        return 1;
    case S_STEP:
        if (c->kind == K_DROP && c->steps <= 0) {
            /* A reset, in the middle of whatever comes next. */
            struct linger l = { 1, 0 };

            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
            conn_free(lc, c);
            lc->hostile_done++;
            enter(c, S_DONE);
            return 1;
        }
        if (c->steps-- <= 0) {
            enter(c, S_HOLD);
            good_done(lc, c);
            return 1;
        }
        switch (rnd_below(&c->rng, 6)) {
        case 0:
            if (c->depth > 0) {
                c->ctl = 'P';
                make_chunk(c, 0);
                free(c->out);
                c->out = (unsigned char *)strdup("STOPTLS\n");
                c->out_len = 8;
                c->out_off = 0;
                enter(c, S_CTL);
                return 1;
            }
            /* fall through */
        case 1:
            if (c->depth < LC_MAX_DEPTH) {
                c->ctl = 'S';
                free(c->out);
                c->out = (unsigned char *)strdup("STARTTLS\n");
                c->out_len = 9;
                c->out_off = 0;
                enter(c, S_CTL);
                return 1;
            }
            /* fall through */
        default:
            if (!make_chunk(c, 1 + rnd_below(&c->rng, 6000))) {
                fail(c, "out of memory");
                return 0;
            }
            enter(c, S_SEND);
            return 1;
        }
    case S_SEND:
        if (!do_write(c))
            return 0;
        if (!EVP_DigestUpdate(c->sha_sent, c->out, c->out_len)) {
            fail(c, "SHA-256");
            return 0;
        }
        c->sent_total += c->out_len;
        enter(c, S_ECHO);
        return 1;
    case S_ECHO:
        while (c->echo_off < c->out_len) {
            n = BIO_read(c->onion, buf, (int)sizeof(buf));
            if (n <= 0) {
                if (BIO_should_retry(c->onion))
                    return retry(c);
                fail(c,
                     "echo read at depth %d: %d (error layer %d, peer "
                     "closed %d), %zu of %zu bytes back",
                     c->depth, n, BIO_onion_get_error_layer(c->onion),
                     BIO_onion_peer_closed(c->onion), c->echo_off, c->out_len);
                return 0;
            }
            if (c->echo_off + (size_t)n > c->out_len
                || memcmp(buf, c->out + c->echo_off, (size_t)n) != 0) {
                fail(c, "the echo differs from what was sent at offset %zu",
                     c->echo_off);
                return 0;
            }
            if (!EVP_DigestUpdate(c->sha_echo, buf, (size_t)n)) {
                fail(c, "SHA-256");
                return 0;
            }
            c->echo_off += (size_t)n;
            c->echoed_total += (size_t)n;
            lc->bytes_echoed += (unsigned long long)n;
        }
        enter(c, c->closing ? S_CLOSE : S_STEP);
        return 1;
    case S_CTL:
        if (!do_write(c))
            return 0;
        if (c->ctl == 'S') {
            /* STARTTLS: the next layer starts right after the line. */
            if (!push_layer(lc, c))
                return 0;
            enter(c, S_HANDSHAKE);
        } else {
            enter(c, S_POP);
        }
        return 1;
    case S_HANDSHAKE:
        r = (int)BIO_do_handshake(c->onion);
        if (r <= 0) {
            if (BIO_should_retry(c->onion))
                return retry(c);
            fail(c,
                 "handshake of layer %d after STARTTLS failed (error "
                 "layer %d)",
                 c->depth - 1, BIO_onion_get_error_layer(c->onion));
            return 0;
        }
        enter(c, c->closing ? S_CLOSE : S_STEP);
        return 1;
    case S_POP:
        r = (int)BIO_onion_pop(c->onion);
        if (r == 1) {
            c->depth--;
            lc->pops++;
            enter(c, c->closing ? S_CLOSE : S_STEP);
            return 1;
        }
        if (BIO_should_retry(c->onion)) {
            if (BIO_get_retry_reason(c->onion) == BIO_ONION_RR_APP_DATA) {
                n = BIO_read(c->onion, buf, (int)sizeof(buf));
                if (n > 0) {
                    fail(c, "%d bytes of data after STOPTLS", n);
                    return 0;
                }
                return 1;
            }
            return retry(c);
        }
        fail(c, "pop of layer %d failed (error layer %d)", c->depth - 1,
             BIO_onion_get_error_layer(c->onion));
        return 0;
    case S_HOLD:
        if (lc->good_left > 0 && time(NULL) - c->since < lc->hold_secs) {
            c->want = POLLIN; /* nothing should come: a read shows a close */
            n = BIO_read(c->onion, buf, 1);
            if (n > 0) {
                fail(c, "unexpected data while holding");
                return 0;
            }
            if (!BIO_should_retry(c->onion)) {
                fail(c,
                     "the server closed while the client held (depth "
                     "%d, error layer %d)",
                     c->depth, BIO_onion_get_error_layer(c->onion));
                return 0;
            }
            return 0;
        }
        c->closing = 1;
        enter(c, S_CLOSE);
        return 1;
    case S_CLOSE:
        if (c->depth > 0) {
            c->ctl = 'P';
            free(c->out);
            c->out = (unsigned char *)strdup("STOPTLS\n");
            c->out_len = 8;
            c->out_off = 0;
            enter(c, S_CTL);
            return 1;
        }
        shutdown(c->fd, SHUT_WR);
        enter(c, S_DRAIN);
        return 1;
    case S_DRAIN:
        n = BIO_read(c->onion, buf, (int)sizeof(buf));
        if (n > 0) {
            fail(c, "%d unexpected bytes after the close", n);
            return 0;
        }
        if (n < 0 && BIO_should_retry(c->onion))
            return retry(c);
        {
            unsigned char a[32], b[32];
            unsigned int la = 0, lb = 0;

            if (!EVP_DigestFinal_ex(c->sha_sent, a, &la)
                || !EVP_DigestFinal_ex(c->sha_echo, b, &lb) || la != lb
                || memcmp(a, b, la) != 0 || c->sent_total != c->echoed_total) {
                fail(c,
                     "SHA-256 of the %zu bytes sent differs from the %zu "
                     "echoed",
                     c->sent_total, c->echoed_total);
                return 0;
            }
        }
        conn_free(lc, c);
        good_done(lc, c);
        lc->good_ok++;
        enter(c, S_DONE);
        return 1;
    default:
        return 0;
    }
}

/* Hostile clients, once their layers (if any) are up. */
static int step_hostile(LC *lc, LC_CONN *c)
{
    unsigned char buf[LC_BUF];
    size_t i, n;
    int r;

    switch (c->state) {
    case S_GARBAGE:
        if (c->out == NULL) {
            n = 1 + rnd_below(&c->rng, 3000);
            if ((c->out = malloc(n)) == NULL) {
                fail(c, "out of memory");
                return 0;
            }
            for (i = 0; i < n; i++)
                c->out[i] = (unsigned char)rnd(&c->rng);
            c->out_len = n;
            c->out_off = 0;
        }
        if (c->out_off < c->out_len) {
            r = BIO_write(c->onion, c->out + c->out_off,
                          (int)(c->out_len - c->out_off));
            if (r > 0) {
                c->out_off += (size_t)r;
                return 1;
            }
            if (BIO_should_retry(c->onion))
                return retry(c);
            /* The server already gave up: that is what was wanted. */
        }
        /* The server must end this connection: read until it does. */
        r = BIO_read(c->onion, buf, (int)sizeof(buf));
        if (r < 0 && BIO_should_retry(c->onion))
            return retry(c);
        if (r > 0)
            return 1;
        ERR_clear_error();
        conn_free(lc, c);
        lc->hostile_done++;
        enter(c, S_DONE);
        return 1;
    case S_STALL:
        /* Silent until every well-behaved client is done. */
        if (lc->good_left > 0 && time(NULL) - c->since < lc->hold_secs) {
            c->want = POLLIN;
            r = BIO_read(c->onion, buf, 1);
            if (r < 0 && BIO_should_retry(c->onion))
                return 0;
            /* The server cut the silent client (its -timeout): fine. */
        }
        ERR_clear_error();
        lc->established_now -= c->hostile_at > 0;
        conn_free(lc, c);
        lc->hostile_done++;
        enter(c, S_DONE);
        return 1;
    default:
        return step_good(lc, c);
    }
}

int step(LC *lc, LC_CONN *c)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (c->state == S_CONNECT) {
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0
            || err != 0) {
            fail(c, "connect: %s", strerror(err != 0 ? err : errno));
            return 0;
        }
        enter(c, S_SETUP);
        if (c->kind != K_GOOD && c->kind != K_DROP && c->hostile_at == 0) {
            /* Hostile on the wire itself: no layer at all. */
            enter(c, c->kind == K_GARBAGE ? S_GARBAGE : S_STALL);
        }
        return 1;
    }
    if (c->kind == K_GOOD || c->kind == K_DROP)
        return step_good(lc, c);
    return step_hostile(lc, c);
}

void init_conn(LC *lc, LC_CONN *c, int id, int round)
{
    memset(c, 0, sizeof(*c));
    c->id = id;
    c->fd = -1;
    c->rng =
        lc->seed ^ ((uint64_t)round << 32) ^ (uint64_t)id * 0x100000001B3ULL;
    (void)rnd(&c->rng);
    c->kind = K_GOOD;
    if ((int)rnd_below(&c->rng, 100) < lc->hostile_pct)
        c->kind = (enum lc_kind)(1 + rnd_below(&c->rng, 3));
    c->setup = lc->initial_depth;
    c->steps = 3 + (int)rnd_below(&c->rng, 6);
    if (c->kind == K_GARBAGE || c->kind == K_STALL) {
        /* Garbage or silence on the wire, or inside layer 0 or 1. */
        c->hostile_at = (int)rnd_below(&c->rng, 3);
        c->setup = c->hostile_at;
    } else if (c->kind == K_DROP) {
        /* After some steps, after some layers, or in a handshake. */
        c->steps = (int)rnd_below(&c->rng, 4);
        switch (rnd_below(&c->rng, 3)) {
        case 0:
            c->setup = (int)rnd_below(&c->rng, (uint64_t)lc->initial_depth);
            c->steps = 0;
            break;
        case 1:
            c->drop_hs = 1;
            break;
        default:
            break;
        }
    }
}
