/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * onion-server: openssl s_server for nested TLS.  One poll() loop serves
 * every connection with non-blocking sockets; each connection is a small
 * state machine over one onion BIO, driven by BIO_should_read,
 * BIO_should_write and BIO_pending.  A connection that fails costs only
 * itself and one log line naming the layer and the reason.
 */

/* accept4. */
#define _GNU_SOURCE

#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <bio_onion.h>

#include "apps_server.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: onion-server -accept [HOST:]PORT STEP... [mode] [options]\n"
        "\n"
        "Steps, from the outermost inward, run on every connection:\n"
        "  -layer SPEC       push a TLS server layer; SPEC is\n"
        "                    comma-separated key=value:\n"
        "      cert=F key=F  certificate chain and key (PEM; key defaults\n"
        "                    to cert)\n"
        "      CAfile=F CApath=D  CAs for client certificates\n"
        "      verify=0|1    require and verify a client certificate\n"
        "                    (default 0)\n"
        "      alpn=P1:P2    ALPN protocols, in order of preference\n"
        "      min=V max=V   TLSv1.2 or TLSv1.3\n"
        "      ciphersuites=S  TLS 1.3 suites; cipher=S  TLS 1.2 list\n"
        "  -http-connect     read one CONNECT request over the layers so\n"
        "                    far and answer 200 Connection established\n"
        "  -starttls         wait for the line STARTTLS, then push the\n"
        "                    next -layer with the bytes read past it\n"
        "\n"
        "Modes (after the steps):\n"
        "  -echo             send back what is read (default)\n"
        "  -www              answer HTTP/1.1 GET with a page listing every\n"
        "                    layer\n"
        "  -file PATH        answer any GET with the bytes of PATH\n"
        "\n"
        "Options:\n"
        "  -inband           a line STOPTLS pops the innermost layer, a\n"
        "                    line STARTTLS pushes the next -layer (the\n"
        "                    last one again when all are used)\n"
        "  -once             exit after one connection: status 0 only if\n"
        "                    it ended cleanly\n"
        "  -timeout SECONDS  cut a connection idle that long (default 60,\n"
        "                    0: never)\n"
        "  -keylogfile FILE  append NSS key log lines of every layer\n"
        "  -quiet            log failures only\n"
        "  -version          print the version\n"
        "  -help             this text\n"
        "\n"
        "HOST defaults to every address; PORT 0 picks a free port.  The\n"
        "server prints 'accepting on HOST:PORT' once it listens.\n");
}

/* The event loop. */

static volatile sig_atomic_t stop_signal = 0;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static int serve(SERVER *s, int lfd)
{
    CONN **conns = NULL;
    struct pollfd *pfd = NULL;
    size_t n = 0, cap = 0, i;
    int accepting = 1, once_status = -1;

    while (!stop_signal) {
        int timeout = -1, r;
        size_t np = 0, polled;
        time_t now = time(NULL);

        if (!accepting && n == 0)
            break;
        if (cap < n + 1) {
            size_t nc = cap ? cap * 2 : 64;
            CONN **cc = realloc(conns, nc * sizeof(*cc));
            struct pollfd *pp;

            if (cc == NULL)
                break;
            conns = cc;
            if ((pp = realloc(pfd, (nc + 1) * sizeof(*pp))) == NULL)
                break;
            pfd = pp;
            cap = nc;
        }
        for (i = 0; i < n; i++) {
            CONN *c = conns[i];

            pfd[np].fd = c->fd;
            pfd[np].events = c->want ? c->want : POLLIN;
            pfd[np].revents = 0;
            np++;
            /* Bytes inside the onion can be read without the socket. */
            if (c->busy || (conn_reads(c) && BIO_pending(c->onion) > 0))
                timeout = 0;
            if (s->timeout > 0 && timeout != 0) {
                long left = (long)(c->last + s->timeout - now) * 1000;

                if (left < 0)
                    left = 0;
                if (timeout < 0 || left < timeout)
                    timeout = (int)left;
            }
        }
        polled = n;
        if (accepting) {
            pfd[np].fd = lfd;
            pfd[np].events = POLLIN;
            pfd[np].revents = 0;
            np++;
        }
        r = poll(pfd, (nfds_t)np, timeout);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "%s: poll: %s\n", apps_prog, strerror(errno));
            break;
        }
        now = time(NULL);
        for (i = 0; i < polled; i++)
            conns[i]->revents = pfd[i].revents;
        if (accepting && (pfd[polled].revents & POLLIN)) {
            while (n < cap) {
                struct sockaddr_storage sa;
                socklen_t sl = sizeof(sa);
                int fd =
                    accept4(lfd, (struct sockaddr *)&sa, &sl, SOCK_CLOEXEC);
                CONN *c;

                if (fd < 0)
                    break;
                if ((c = conn_new(s, fd, &sa)) == NULL) {
                    fprintf(stderr, "%s: cannot set up a connection\n",
                            apps_prog);
                    close(fd);
                    continue;
                }
                c->revents = POLLIN; /* run it once at once */
                conns[n++] = c;
                if (s->once) {
                    accepting = 0;
                    close(lfd);
                    break;
                }
            }
        }
        for (i = 0; i < n;) {
            CONN *c = conns[i];

            if (c->revents != 0 || c->busy
                || (conn_reads(c) && BIO_pending(c->onion) > 0)) {
                c->revents = 0;
                c->last = now;
                conn_run(c);
            } else if (s->timeout > 0 && now - c->last >= s->timeout) {
                conn_fail_msg(c, "timed out: no progress for %d s%s",
                              s->timeout,
                              c->hs_pending ? " in the handshake" : "");
            }
            if (c->phase == PH_END) {
                if (!c->failed && !s->quiet)
                    fprintf(stderr, "%s: %s: closed cleanly\n", apps_prog,
                            c->peer);
                if (s->once)
                    once_status = c->failed ? 1 : 0;
                conn_free(c);
                memmove(&conns[i], &conns[i + 1], (n - i - 1) * sizeof(*conns));
                n--;
#ifdef __GLIBC__
                /*
                 * A long-running server: when the last connection is gone,
                 * give the heap glibc keeps back to the system, so that the
                 * memory of a burst of clients does not stay resident.
                 */
                if (n == 0)
                    malloc_trim(0);
#endif
                continue;
            }
            i++;
        }
    }
    for (i = 0; i < n; i++)
        conn_free(conns[i]);
    free(conns);
    free(pfd);
    if (accepting)
        close(lfd);
    if (s->once)
        return once_status == 0;
    return stop_signal != 0;
}

int main(int argc, char **argv)
{
    SERVER s;
    const char *accept_arg = NULL, *keylog_file = NULL;
    char *host = NULL, *port = NULL;
    FILE *keylog = NULL;
    int i, ret = 1, lfd = -1;
    struct sockaddr_storage sa;
    socklen_t sl = sizeof(sa);
    char addr[64];

    memset(&s, 0, sizeof(s));
    s.mode = MODE_ECHO;
    s.timeout = 60;
    apps_prog = "onion-server";
    apps_std_fds();
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_arg = i + 1 < argc;

        if (strcmp(a, "-help") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            ret = 0;
            goto end;
        } else if (strcmp(a, "-version") == 0) {
            printf("onion-server (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
            ret = 0;
            goto end;
        } else if (strcmp(a, "-accept") == 0 && has_arg) {
            accept_arg = argv[++i];
        } else if (strcmp(a, "-layer") == 0 && has_arg) {
            if (!apps_steps_add(&s.steps, APPS_STEP_LAYER, argv[++i], 0))
                goto end;
        } else if (strcmp(a, "-http-connect") == 0) {
            if (!apps_steps_add(&s.steps, APPS_STEP_HTTP_CONNECT, NULL, 0))
                goto end;
        } else if (strcmp(a, "-starttls") == 0) {
            if (!apps_steps_add(&s.steps, APPS_STEP_STARTTLS, NULL, 0))
                goto end;
        } else if (strcmp(a, "-echo") == 0) {
            s.mode = MODE_ECHO;
        } else if (strcmp(a, "-www") == 0) {
            s.mode = MODE_WWW;
        } else if (strcmp(a, "-file") == 0 && has_arg) {
            s.mode = MODE_FILE;
            s.file = argv[++i];
        } else if (strcmp(a, "-inband") == 0) {
            s.inband = 1;
        } else if (strcmp(a, "-once") == 0) {
            s.once = 1;
        } else if (strcmp(a, "-quiet") == 0) {
            s.quiet = 1;
        } else if (strcmp(a, "-timeout") == 0 && has_arg) {
            char *e;
            long t = strtol(argv[++i], &e, 10);

            if (*e != '\0' || t < 0 || t > 86400) {
                fprintf(stderr, "%s: -timeout: seconds from 0 to 86400\n",
                        apps_prog);
                goto end;
            }
            s.timeout = (int)t;
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
    if (accept_arg == NULL) {
        fprintf(stderr, "%s: -accept [HOST:]PORT is required (see -help)\n",
                apps_prog);
        goto end;
    }
    if (!apps_split_hostport(accept_arg, &host, &port, 1)) {
        fprintf(stderr, "%s: -accept %s: expected [HOST:]PORT\n", apps_prog,
                accept_arg);
        goto end;
    }
    if (s.mode == MODE_FILE && access(s.file, R_OK) != 0) {
        fprintf(stderr, "%s: -file %s: %s\n", apps_prog, s.file,
                strerror(errno));
        goto end;
    }
    if (keylog_file != NULL && (keylog = apps_open_keylog(keylog_file)) == NULL)
        goto end;
    if (!apps_steps_check(&s.steps, 0, keylog))
        goto end;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if ((lfd = apps_listen(host, port)) < 0 || !apps_set_nonblock(lfd))
        goto end;
    if (getsockname(lfd, (struct sockaddr *)&sa, &sl) == 0) {
        if (sa.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&sa;

            inet_ntop(AF_INET, &a->sin_addr, addr, sizeof(addr));
            fprintf(stderr, "%s: accepting on %s:%u\n", apps_prog, addr,
                    ntohs(a->sin_port));
        } else {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&sa;

            inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof(addr));
            fprintf(stderr, "%s: accepting on [%s]:%u\n", apps_prog, addr,
                    ntohs(a->sin6_port));
        }
    }
    ret = serve(&s, lfd) ? 0 : 1;
    lfd = -1;
end:
    if (lfd >= 0)
        close(lfd);
    if (keylog != NULL)
        fclose(keylog);
    apps_steps_free(&s.steps);
    free(host);
    free(port);
    return ret;
}
