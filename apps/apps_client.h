/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

#ifndef APPS_CLIENT_H
#define APPS_CLIENT_H

#include <openssl/bio.h>

#include "apps_common.h"

/*
 * onion-client's connection: the steps that build the layers (run
 * blocking over the non-blocking socket) live in apps_client.c, the data
 * loop in onion-client.c.
 */

#define IO_CHUNK 16384
#define TX_LIMIT (256 * 1024)
#define HTTP_HEAD_MAX 16384

enum client_state {
    ST_RUN,       /* copying data both ways */
    ST_POP_LOCAL, /* we sent STOPTLS: popping the innermost layer */
    ST_POP_PEER,  /* the peer closed the innermost layer: answering */
    ST_CLOSING,   /* closing every layer, then the socket */
    ST_DRAIN,     /* all layers closed, write side shut: read until EOF */
    ST_DONE
};

typedef struct client_st {
    int fd;
    int in_fd;
    BIO *onion; /* onion over a socket BIO */
    APPS_STEPS steps;
    int next_layer; /* index in steps.layers of the next in-band push */
    char *host, *port;
    char *default_name; /* servername used when a spec names none */
    int inband, quiet, ign_eof;
    enum client_state state;
    int hs_pending;     /* a pushed layer has not finished its handshake */
    APPS_BUF tx;        /* from stdin, waiting for the innermost layer */
    APPS_BUF rx;        /* from the innermost layer, scanned for STOPTLS */
    APPS_BUF leftover;  /* read past a CONNECT reply, for the next layer */
    int tx_bol, rx_bol; /* the next byte begins a line */
    int stdin_eof;
    int lost_input;     /* the peer closed before all buffered input went out */
    size_t wlen;        /* length of the write being retried, 0 if none */
    enum apps_ctl wctl; /* what that write is, when a control line */
    short want;         /* poll events the socket waits for */
} CLIENT;

/* client_fail prints why the last operation on the onion failed. */
void client_fail(CLIENT *c, const char *doing);

/* client_layer_event prints a layer's summary (BIO_onion_set_callback). */
void client_layer_event(BIO *b, int event, int layer, void *arg);

/* client_cork holds back (|on|) or sends partial TCP segments. */
void client_cork(CLIENT *c, int on);

/*
 * client_push_layer pushes a layer made from |spec| with the bytes kept in
 * c->leftover, writes its first flight and, if |wait|, completes its
 * handshake.  Returns 1, or 0 after printing why.
 */
int client_push_layer(CLIENT *c, APPS_LAYER_SPEC *spec, int wait);

/* client_run_steps runs the command line's steps; 1 or 0 (printed). */
int client_run_steps(CLIENT *c);

#endif /* APPS_CLIENT_H */
