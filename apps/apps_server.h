/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

#ifndef APPS_SERVER_H
#define APPS_SERVER_H

#include <stdarg.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/bio.h>

#include "apps_common.h"

/*
 * One connection of onion-server: a state machine over one onion BIO and
 * one non-blocking socket.  onion-server.c runs the poll() loop; this
 * part runs the steps, the modes and the in-band control lines.
 */

#define IO_CHUNK 16384
#define OUT_LIMIT (256 * 1024)
#define HTTP_HEAD_MAX 16384
#define CONN_ROUNDS 64 /* work rounds per connection per poll() */

enum server_mode { MODE_ECHO, MODE_WWW, MODE_FILE };

typedef struct server_st {
    APPS_STEPS steps;
    enum server_mode mode;
    const char *file;
    int inband, quiet, once;
    int timeout; /* seconds without progress before a connection is cut */
} SERVER;

typedef enum conn_phase {
    PH_SETUP,   /* running the steps */
    PH_DATA,    /* the mode's exchange */
    PH_CLOSING, /* closing every layer (after Connection: close) */
    PH_DRAIN,   /* no layer left, write side shut: wait for the peer's EOF */
    PH_END
} CONN_PHASE;

typedef struct conn_st {
    SERVER *srv;
    int fd;
    BIO *onion;
    char peer[80];
    CONN_PHASE phase;
    int step;          /* next setup step */
    int next_layer;    /* next layer spec to push */
    int hs_pending;    /* the innermost layer's handshake is not done */
    int popping;       /* popping the innermost layer */
    int peer_closed;   /* the peer closed the innermost layer */
    int eof;           /* the transport ended at depth 0 */
    enum apps_ctl ctl; /* a control line waiting for the output to drain */
    APPS_BUF in;       /* plaintext read from the innermost layer */
    APPS_BUF out;      /* plaintext for the innermost layer */
    size_t wlen;       /* length of the write being retried */
    int in_bol;
    int http_close; /* close the connection after this response */
    int file_fd;    /* -file body being sent, or -1 */
    off_t file_left;
    short want;    /* poll events the socket waits for */
    short revents; /* what poll reported */
    int busy;      /* stopped with work left: run again without waiting */
    time_t last;
    int failed;
} CONN;

/* conn_new sets up a connection on accepted socket |fd|; NULL on failure. */
CONN *conn_new(SERVER *s, int fd, const struct sockaddr_storage *sa);

/* conn_free closes the connection's socket and frees it. */
void conn_free(CONN *c);

/*
 * conn_run runs the connection until it waits for its socket (c->want)
 * or has done a fair share of work (c->busy); returns 1 when it ended
 * (c->failed tells how).
 */
int conn_run(CONN *c);

/*
 * conn_reads tells whether the connection would read from the onion now,
 * so that bytes already inside it (BIO_pending) deserve a run without
 * waiting for the socket.
 */
int conn_reads(const CONN *c);

/* conn_fail_msg logs a failure of ours, naming the innermost layer. */
void conn_fail_msg(CONN *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* APPS_SERVER_H */
