/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * I/O helpers of the tools: host:port arguments, sockets, byte queues and
 * the in-band control line scanner.
 */

/* strndup. */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "apps_common.h"

/* Sockets. */

int apps_split_hostport(const char *arg, char **host, char **port,
                        int port_only_ok)
{
    const char *colon;

    *host = *port = NULL;
    if (arg[0] == '[') {
        const char *end = strchr(arg, ']');

        if (end == NULL || end[1] != ':' || end[2] == '\0')
            return 0;
        *host = strndup(arg + 1, (size_t)(end - arg - 1));
        *port = strdup(end + 2);
    } else if ((colon = strrchr(arg, ':')) != NULL) {
        if (colon == arg && !port_only_ok)
            return 0;
        if (colon[1] == '\0' || strchr(arg, ':') != colon)
            return 0;
        if (colon != arg)
            *host = strndup(arg, (size_t)(colon - arg));
        *port = strdup(colon + 1);
    } else if (port_only_ok && arg[0] != '\0') {
        *port = strdup(arg);
    } else {
        return 0;
    }
    return *port != NULL;
}

int apps_connect(const char *host, const char *port)
{
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, rv, err = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if ((rv = getaddrinfo(host, port, &hints, &res)) != 0) {
        fprintf(stderr, "%s: %s:%s: %s\n", apps_prog, host, port,
                gai_strerror(rv));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "%s: connect to %s:%s: %s\n", apps_prog, host, port,
                strerror(err));
    return fd;
}

int apps_listen(const char *host, const char *port)
{
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, rv, one = 1, zero = 0, err = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = host == NULL ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if ((rv = getaddrinfo(host, port, &hints, &res)) != 0) {
        fprintf(stderr, "%s: %s:%s: %s\n", apps_prog, host ? host : "*", port,
                gai_strerror(rv));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        /* Without a host, one socket takes IPv4 and IPv6 alike. */
        if (ai->ai_family == AF_INET6 && host == NULL)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "%s: listen on %s:%s: %s\n", apps_prog,
                host ? host : "*", port, strerror(err));
    return fd;
}

void apps_std_fds(void)
{
    int fd;

    while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
        ; /* it filled a closed standard descriptor: keep it */
    if (fd > 2)
        close(fd);
}

int apps_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

/* Byte queues. */

unsigned char apps_buf_empty[1];

int apps_buf_append(APPS_BUF *b, const void *data, size_t len)
{
    if (len == 0)
        return 1;
    if (b->off > 0 && b->off + b->len + len > b->cap) {
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
    }
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        unsigned char *p;

        while (cap < b->len + len)
            cap *= 2;
        if ((p = realloc(b->data, cap)) == NULL)
            return 0;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->off + b->len, data, len);
    b->len += len;
    return 1;
}

void apps_buf_consume(APPS_BUF *b, size_t len)
{
    if (len >= b->len) {
        b->off = b->len = 0;
        return;
    }
    b->off += len;
    b->len -= len;
}

void apps_buf_free(APPS_BUF *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* In-band control lines. */

static enum apps_ctl ctl_match(const unsigned char *p, size_t avail, int eof,
                               size_t *line_len)
{
    static const struct {
        const char *word;
        enum apps_ctl ctl;
    } words[] = { { "STOPTLS", APPS_CTL_STOPTLS },
                  { "STARTTLS", APPS_CTL_STARTTLS } };
    size_t i;
    int maybe = 0;

    for (i = 0; i < 2; i++) {
        size_t wl = strlen(words[i].word);
        size_t n = avail < wl ? avail : wl;

        if (memcmp(p, words[i].word, n) != 0)
            continue;
        if (avail < wl + 1) {
            maybe = 1;
            continue;
        }
        if (p[wl] == '\n') {
            *line_len = wl + 1;
            return words[i].ctl;
        }
        if (p[wl] == '\r') {
            if (avail < wl + 2) {
                maybe = 1;
                continue;
            }
            if (p[wl + 1] == '\n') {
                *line_len = wl + 2;
                return words[i].ctl;
            }
        }
    }
    return maybe && !eof ? APPS_CTL_MORE : APPS_CTL_NONE;
}

size_t apps_ctl_find(const unsigned char *buf, size_t len, int bol, int eof,
                     enum apps_ctl *ctl, size_t *ctl_len)
{
    size_t pos = 0;

    *ctl = APPS_CTL_NONE;
    *ctl_len = 0;
    if (!bol) {
        const unsigned char *nl = memchr(buf, '\n', len);

        if (nl == NULL)
            return len;
        pos = (size_t)(nl - buf) + 1;
    }
    while (pos < len) {
        enum apps_ctl c = ctl_match(buf + pos, len - pos, eof, ctl_len);
        const unsigned char *nl;

        if (c != APPS_CTL_NONE) {
            *ctl = c;
            return pos;
        }
        nl = memchr(buf + pos, '\n', len - pos);
        if (nl == NULL)
            return len;
        pos = (size_t)(nl - buf) + 1;
    }
    return len;
}

int apps_bol_after(const unsigned char *buf, size_t len, int bol)
{
    return len == 0 ? bol : buf[len - 1] == '\n';
}
