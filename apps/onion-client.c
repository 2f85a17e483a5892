/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * onion-client: openssl s_client for nested TLS.  It connects, runs its
 * steps (TLS layers, HTTP CONNECT tunnels, STARTTLS lines) from the
 * outermost inward, then copies stdin to the innermost layer and the
 * innermost layer to stdout until both ways end, and closes every layer
 * cleanly, innermost first.  Everything goes through the public bio_onion
 * API over one non-blocking socket and one poll() loop.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <bio_onion.h>

#include "apps_client.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: onion-client -connect HOST:PORT STEP... [options]\n"
            "\n"
            "Steps, from the outermost inward:\n"
            "  -layer SPEC            push a TLS client layer; SPEC is\n"
            "                         comma-separated key=value:\n"
            "      servername=NAME    SNI and the name to verify (default:\n"
            "                         the -connect host for the first layer,\n"
            "                         the -http-connect host after a tunnel)\n"
            "      CAfile=F CApath=D  trust anchors (default: the system's)\n"
            "      cert=F key=F       client certificate and key (PEM)\n"
            "      verify=1|0         verify chain and name (default 1)\n"
            "      alpn=P1:P2         ALPN protocols\n"
            "      min=V max=V        TLSv1.2 or TLSv1.3\n"
            "      ciphersuites=S     TLS 1.3 suites; cipher=S TLS 1.2 list\n"
            "      sess_out=F         save the session (PEM) for resumption\n"
            "      sess_in=F          resume the session saved in F\n"
            "  -http-connect HOST:PORT  send CONNECT over the layers so far,\n"
            "                         require a 2xx reply; the next -layer\n"
            "                         starts inside the tunnel\n"
            "  -starttls              send the line STARTTLS and push the\n"
            "                         next -layer at once\n"
            "\n"
            "Options:\n"
            "  -inband                stdin lines STOPTLS / STARTTLS pop the\n"
            "                         innermost layer / push the next -layer\n"
            "                         (the last one again when all are used);\n"
            "                         a STOPTLS line from the peer pops too\n"
            "  -in FILE               send FILE instead of stdin\n"
            "  -ign_eof               at the end of the input, wait for the\n"
            "                         peer to close instead of closing first\n"
            "  -keylogfile FILE       append NSS key log lines of every layer\n"
            "  -quiet                 no per-layer summary on stderr\n"
            "  -version               print the version\n"
            "  -help                  this text\n"
            "\n"
            "stdin goes to the innermost layer, the innermost layer to\n"
            "stdout.  The exit status is 0 only when every layer came up and\n"
            "was closed cleanly.\n");
}

/* Output. */

static int write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "%s: write to stdout: %s\n", apps_prog,
                    strerror(errno));
            return 0;
        }
        p += n;
        len -= (size_t)n;
    }
    return 1;
}

/* The data loop. */

static void note_want(CLIENT *c)
{
    if (BIO_should_write(c->onion))
        c->want |= POLLOUT;
    else
        c->want |= POLLIN;
}

/* Hands received plaintext to stdout, acting on a peer's STOPTLS line. */
static int deliver(CLIENT *c, const unsigned char *p, size_t n)
{
    if (!c->inband)
        return write_all(1, p, n);
    if (!apps_buf_append(&c->rx, p, n))
        return 0;
    for (;;) {
        enum apps_ctl ctl;
        size_t cl, plain;

        plain = apps_ctl_find(APPS_BUF_PTR(&c->rx), c->rx.len, c->rx_bol, 0,
                              &ctl, &cl);
        if (plain > 0) {
            if (!write_all(1, APPS_BUF_PTR(&c->rx), plain))
                return 0;
            c->rx_bol = apps_bol_after(APPS_BUF_PTR(&c->rx), plain, c->rx_bol);
            apps_buf_consume(&c->rx, plain);
        }
        if (ctl == APPS_CTL_NONE || ctl == APPS_CTL_MORE)
            return 1;
        if (ctl == APPS_CTL_STOPTLS && c->state == ST_RUN)
            c->state = ST_POP_PEER;
        else if (ctl == APPS_CTL_STARTTLS
                 && !write_all(1, APPS_BUF_PTR(&c->rx), cl))
            return 0;
        apps_buf_consume(&c->rx, cl);
        c->rx_bol = 1;
    }
}

/* What is left of a partial control line when the layer it was on ends. */
static int flush_rx(CLIENT *c)
{
    int ok = write_all(1, APPS_BUF_PTR(&c->rx), c->rx.len);

    apps_buf_consume(&c->rx, c->rx.len);
    c->rx_bol = 1;
    return ok;
}

/* One read from the innermost layer; returns 1 on progress, 0 if blocked. */
static int do_read(CLIENT *c, int *failed)
{
    unsigned char buf[IO_CHUNK];
    int n = BIO_read(c->onion, buf, sizeof(buf));

    if (n > 0) {
        if (!deliver(c, buf, (size_t)n))
            *failed = 1;
        return 1;
    }
    if (n == 0 && BIO_onion_get_depth(c->onion) > 0
        && BIO_onion_peer_closed(c->onion)) {
        /* The peer closed the innermost layer. */
        if (!flush_rx(c)) {
            *failed = 1;
            return 1;
        }
        if (c->state == ST_RUN && !c->inband && (c->tx.len > 0 || c->wlen)) {
            SSL *ssl = NULL;
            char label[256];

            BIO_onion_get_ssl(c->onion, -1, &ssl);
            apps_layer_label(label, sizeof(label),
                             BIO_onion_get_depth(c->onion) - 1,
                             apps_ssl_spec(ssl));
            fprintf(stderr,
                    "%s: %s: closed by the peer before all input was sent\n",
                    apps_prog, label);
            c->lost_input = 1;
        }
        if (c->state == ST_RUN)
            c->state = c->inband ? ST_POP_PEER : ST_CLOSING;
        return 0; /* the pop goes on */
    }
    if (n == 0) {
        /* The transport ended at depth 0: the peer is done. */
        if (!flush_rx(c))
            *failed = 1;
        if (c->state == ST_RUN && (c->tx.len > 0 || c->wlen)) {
            fprintf(stderr,
                    "%s: the peer closed the connection before all input "
                    "was sent\n",
                    apps_prog);
            c->lost_input = 1;
        }
        c->state = ST_DONE;
        return 1;
    }
    if (BIO_should_retry(c->onion)) {
        note_want(c);
        return 0;
    }
    client_fail(c, NULL);
    *failed = 1;
    return 1;
}

/* Drives the pop of the innermost layer; 1 on progress. */
static int do_pop(CLIENT *c, int *failed)
{
    int r;

    if (BIO_onion_get_depth(c->onion) == 0) {
        /* Nothing left to close: end our side and read until the peer's. */
        shutdown(c->fd, SHUT_WR);
        c->state = ST_DRAIN;
        return 1;
    }
    r = BIO_onion_pop(c->onion);
    if (r == 1) {
        c->tx_bol = c->rx_bol = 1;
        c->hs_pending = 0;
        if (c->state != ST_CLOSING)
            c->state = ST_RUN;
        return 1;
    }
    if (BIO_should_retry(c->onion)) {
        /* BIO_ONION_RR_APP_DATA: do_read takes the data. */
        note_want(c);
        return 0;
    }
    client_fail(c, "closing");
    *failed = 1;
    return 1;
}

static int push_next(CLIENT *c)
{
    APPS_LAYER_SPEC *spec;

    if (c->steps.nlayers == 0) {
        fprintf(stderr, "%s: STARTTLS: no -layer to push\n", apps_prog);
        return 0;
    }
    spec = c->steps
               .layers[c->next_layer < c->steps.nlayers ? c->next_layer
                                                        : c->steps.nlayers - 1];
    c->next_layer++;
    return client_push_layer(c, spec, 0);
}

/* One write towards the innermost layer; 1 on progress. */
static int do_write(CLIENT *c, int *failed)
{
    size_t len;
    enum apps_ctl ctl = APPS_CTL_NONE;
    int n;

    if (c->wlen > 0) {
        len = c->wlen;
        ctl = c->wctl;
    } else {
        size_t cl = 0;

        if (c->tx.len == 0)
            return 0;
        len = c->tx.len;
        if (c->inband) {
            len = apps_ctl_find(APPS_BUF_PTR(&c->tx), c->tx.len, c->tx_bol,
                                c->stdin_eof, &ctl, &cl);
            if (len == 0 && ctl == APPS_CTL_MORE)
                return 0; /* wait for the rest of the line */
            if (len == 0)
                len = cl; /* the control line itself */
            else
                ctl = APPS_CTL_NONE;
        }
        if (len > IO_CHUNK)
            len = IO_CHUNK;
        if (ctl == APPS_CTL_STARTTLS)
            client_cork(c, 1);
    }
    n = BIO_write(c->onion, APPS_BUF_PTR(&c->tx), (int)len);
    if (n <= 0) {
        if (BIO_should_retry(c->onion)) {
            c->wlen = len;
            c->wctl = ctl;
            note_want(c);
            return 0;
        }
        client_fail(c, NULL);
        *failed = 1;
        return 1;
    }
    c->tx_bol = apps_bol_after(APPS_BUF_PTR(&c->tx), (size_t)n, c->tx_bol);
    apps_buf_consume(&c->tx, (size_t)n);
    if ((size_t)n < len) {
        /* Only the socket at depth 0 takes part of a write. */
        c->wlen = len - (size_t)n;
        c->wctl = ctl;
        return 1;
    }
    c->wlen = 0;
    c->wctl = APPS_CTL_NONE;
    if (ctl == APPS_CTL_STOPTLS) {
        if (BIO_onion_get_depth(c->onion) == 0) {
            fprintf(stderr, "%s: STOPTLS: no layer to pop\n", apps_prog);
            *failed = 1;
            return 1;
        }
        c->state = ST_POP_LOCAL;
    } else if (ctl == APPS_CTL_STARTTLS) {
        if (!push_next(c))
            *failed = 1;
    }
    return 1;
}

static int do_handshake(CLIENT *c, int *failed)
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
    client_fail(c, NULL);
    *failed = 1;
    return 1;
}

static int read_stdin(CLIENT *c)
{
    unsigned char buf[65536];
    ssize_t n = read(c->in_fd, buf, sizeof(buf));

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 1;
    if (n < 0) {
        fprintf(stderr, "%s: read input: %s\n", apps_prog, strerror(errno));
        return 0;
    }
    if (n == 0) {
        c->stdin_eof = 1;
        return 1;
    }
    if (!apps_buf_append(&c->tx, buf, (size_t)n)) {
        fprintf(stderr, "%s: out of memory\n", apps_prog);
        return 0;
    }
    return 1;
}

static int data_loop(CLIENT *c)
{
    int failed = 0;

    c->state = ST_RUN;
    while (c->state != ST_DONE && !failed) {
        struct pollfd p[2];
        int progress, np = 0, timeout = -1;

        do {
            progress = 0;
            c->want = 0;
            if (c->hs_pending && c->state == ST_RUN)
                progress |= do_handshake(c, &failed);
            if (!failed && c->state != ST_DONE)
                progress |= do_read(c, &failed);
            if (!failed
                && (c->state == ST_POP_LOCAL || c->state == ST_POP_PEER
                    || c->state == ST_CLOSING))
                progress |= do_pop(c, &failed);
            if (!failed && c->state == ST_RUN && !c->hs_pending)
                progress |= do_write(c, &failed);
            if (!failed && c->state == ST_RUN && c->stdin_eof && !c->ign_eof
                && c->tx.len == 0 && c->wlen == 0) {
                c->state = ST_CLOSING;
                progress = 1;
            }
        } while (progress && !failed && c->state != ST_DONE);
        if (failed || c->state == ST_DONE)
            break;
        p[np].fd = c->fd;
        p[np].events = c->want ? c->want : POLLIN;
        p[np].revents = 0;
        np++;
        if (!c->stdin_eof && c->tx.len < TX_LIMIT && c->state == ST_RUN) {
            p[np].fd = c->in_fd;
            p[np].events = POLLIN;
            p[np].revents = 0;
            np++;
        }
        if (BIO_pending(c->onion) > 0)
            timeout = 0;
        if (poll(p, (nfds_t)np, timeout) < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "%s: poll: %s\n", apps_prog, strerror(errno));
            return 0;
        }
        if (np > 1 && (p[1].revents & POLLNVAL))
            c->stdin_eof = 1; /* no standard input at all: nothing to send */
        else if (np > 1 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))
                 && !read_stdin(c))
            return 0;
    }
    return !failed && !c->lost_input;
}

int main(int argc, char **argv)
{
    CLIENT c;
    BIO *sock = NULL;
    const char *connect_arg = NULL, *in_file = NULL, *keylog_file = NULL;
    FILE *keylog = NULL;
    int i, ret = 1;

    memset(&c, 0, sizeof(c));
    c.fd = -1;
    c.in_fd = 0;
    apps_prog = "onion-client";
    apps_std_fds();
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_arg = i + 1 < argc;

        if (strcmp(a, "-help") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            ret = 0;
            goto end;
        } else if (strcmp(a, "-version") == 0) {
            printf("onion-client (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
            ret = 0;
            goto end;
        } else if (strcmp(a, "-connect") == 0 && has_arg) {
            connect_arg = argv[++i];
        } else if (strcmp(a, "-layer") == 0 && has_arg) {
            if (!apps_steps_add(&c.steps, APPS_STEP_LAYER, argv[++i], 1))
                goto end;
        } else if (strcmp(a, "-http-connect") == 0 && has_arg) {
            if (!apps_steps_add(&c.steps, APPS_STEP_HTTP_CONNECT, argv[++i], 1))
                goto end;
        } else if (strcmp(a, "-starttls") == 0) {
            if (!apps_steps_add(&c.steps, APPS_STEP_STARTTLS, NULL, 1))
                goto end;
        } else if (strcmp(a, "-inband") == 0) {
            c.inband = 1;
        } else if (strcmp(a, "-quiet") == 0) {
            c.quiet = 1;
        } else if (strcmp(a, "-ign_eof") == 0) {
            c.ign_eof = 1;
        } else if (strcmp(a, "-in") == 0 && has_arg) {
            in_file = argv[++i];
        } else if (strcmp(a, "-keylogfile") == 0 && has_arg) {
            keylog_file = argv[++i];
        } else {
            fprintf(stderr, "%s: %s '%s' (see -help)\n", apps_prog,
                    a[0] == '-' ? "unknown option or missing argument"
                                : "unexpected argument",
                    a);
            goto end;
        }
    }
    if (connect_arg == NULL) {
        fprintf(stderr, "%s: -connect HOST:PORT is required (see -help)\n",
                apps_prog);
        goto end;
    }
    if (!apps_split_hostport(connect_arg, &c.host, &c.port, 0)) {
        fprintf(stderr, "%s: -connect %s: expected HOST:PORT\n", apps_prog,
                connect_arg);
        goto end;
    }
    if ((c.default_name = strdup(c.host)) == NULL)
        goto end;
    if (keylog_file != NULL && (keylog = apps_open_keylog(keylog_file)) == NULL)
        goto end;
    if (!apps_steps_check(&c.steps, 1, keylog))
        goto end;
    if (in_file != NULL && (c.in_fd = open(in_file, O_RDONLY)) < 0) {
        fprintf(stderr, "%s: -in %s: %s\n", apps_prog, in_file,
                strerror(errno));
        goto end;
    }
    signal(SIGPIPE, SIG_IGN);
    if ((c.fd = apps_connect(c.host, c.port)) < 0)
        goto end;
    if (!apps_set_nonblock(c.fd)
        || (sock = BIO_new_socket(c.fd, BIO_NOCLOSE)) == NULL
        || (c.onion = BIO_new_onion()) == NULL) {
        fprintf(stderr, "%s: cannot set up the connection\n", apps_prog);
        ERR_print_errors_fp(stderr);
        goto end;
    }
    BIO_push(c.onion, sock);
    sock = NULL; /* freed with the chain */
    BIO_onion_set_callback(c.onion, client_layer_event, &c);
    if (!c.quiet)
        fprintf(stderr, "%s: connected to %s\n", apps_prog, connect_arg);
    if (!client_run_steps(&c))
        goto end;
    /* Bytes read past a CONNECT reply with no layer after it are data. */
    if (c.leftover.len > 0) {
        if (!deliver(&c, APPS_BUF_PTR(&c.leftover), c.leftover.len))
            goto end;
        apps_buf_consume(&c.leftover, c.leftover.len);
    }
    if (!data_loop(&c))
        goto end;
    ret = 0;
end:
    if (c.onion != NULL)
        BIO_free_all(c.onion);
    BIO_free(sock);
    if (c.fd >= 0)
        close(c.fd);
    if (c.in_fd > 0)
        close(c.in_fd);
    if (keylog != NULL)
        fclose(keylog);
    apps_steps_free(&c.steps);
    apps_buf_free(&c.tx);
    apps_buf_free(&c.rx);
    apps_buf_free(&c.leftover);
    free(c.host);
    free(c.port);
    free(c.default_name);
    return ret;
}
