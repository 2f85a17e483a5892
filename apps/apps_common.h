/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

#ifndef APPS_COMMON_H
#define APPS_COMMON_H

#include <stddef.h>
#include <stdio.h>

#include <openssl/ssl.h>

#include <bio_onion.h>

/*
 * Code shared by onion-client and onion-server: layer specifications, their
 * SSL_CTX, the step list, error and summary lines, sockets, byte buffers and
 * the in-band control line scanner.  Only the public bio_onion API is used.
 */

/* The name the tool prints in front of its messages ("onion-client"). */
extern const char *apps_prog;

/* One -layer SPEC, parsed. */
typedef struct apps_layer_spec_st {
    char *text;  /* the SPEC as given, owned */
    char *store; /* a copy split in place: the values point into it, owned */
    const char *servername;
    const char *cafile;
    const char *capath;
    const char *cert;
    const char *key;
    const char *alpn;
    const char *min;
    const char *max;
    const char *ciphersuites;
    const char *cipher;
    const char *sess_out;
    const char *sess_in;
    int verify;               /* -1: not given */
    SSL_CTX *ctx;             /* built by apps_layer_ctx */
    unsigned char *alpn_wire; /* ALPN list in wire format, owned */
    size_t alpn_wire_len;
} APPS_LAYER_SPEC;

enum apps_step_kind {
    APPS_STEP_LAYER,
    APPS_STEP_HTTP_CONNECT,
    APPS_STEP_STARTTLS
};

typedef struct apps_step_st {
    enum apps_step_kind kind;
    APPS_LAYER_SPEC *layer; /* APPS_STEP_LAYER */
    const char *target;     /* APPS_STEP_HTTP_CONNECT (client): HOST:PORT */
} APPS_STEP;

/* The ordered step list of a command line. */
typedef struct apps_steps_st {
    APPS_STEP *step;
    int n;
    APPS_LAYER_SPEC **layers; /* the -layer steps, in order */
    int nlayers;
} APPS_STEPS;

/*
 * apps_steps_add appends a step; for APPS_STEP_LAYER it parses |arg| as a
 * SPEC for a client (|client| non-zero) or a server.  Returns 1, or 0 after
 * printing why the argument is wrong.
 */
int apps_steps_add(APPS_STEPS *st, enum apps_step_kind kind, const char *arg,
                   int client);

/*
 * apps_steps_check checks the order of the steps (a -starttls must be
 * followed by a -layer) and builds every layer's SSL_CTX.  |keylog| is the
 * open key log file or NULL.  Returns 1, or 0 after printing why not.
 */
int apps_steps_check(APPS_STEPS *st, int client, FILE *keylog);

void apps_steps_free(APPS_STEPS *st);

/*
 * apps_layer_label formats "layer N (servername X)" (or "layer N" when no
 * name is known) into |buf|.
 */
const char *apps_layer_label(char *buf, size_t len, int index,
                             const APPS_LAYER_SPEC *spec);

/*
 * apps_layer_new_ssl creates the SSL of one layer from |spec| (client side:
 * host name, SNI, session to resume).  |default_name| replaces a missing
 * servername for the host name check.  Returns NULL after printing why.
 */
SSL *apps_layer_new_ssl(APPS_LAYER_SPEC *spec, int client,
                        const char *default_name);

/* apps_ssl_spec returns the spec an SSL of apps_layer_new_ssl was made from. */
APPS_LAYER_SPEC *apps_ssl_spec(SSL *ssl);

/*
 * apps_failure_reason writes the reason the last operation on |onion|
 * failed: for a layer, its verification error or the first TLS error on
 * the queue; for the transport, what the queue or errno says.  |label|
 * receives "layer N (...)" or "transport".  The error queue is consumed.
 */
void apps_failure_reason(BIO *onion, char *label, size_t labellen, char *why,
                         size_t whylen);

/* apps_print_layer prints one line about layer |index| of |onion| to |out|. */
void apps_print_layer(FILE *out, BIO *onion, int index);

/* apps_describe_layer formats the same line into |buf|. */
void apps_describe_layer(char *buf, size_t len, BIO *onion, int index);

/*
 * apps_split_hostport splits "HOST:PORT", "[V6]:PORT" or (|port_only_ok|)
 * "PORT" into |host| (NULL when absent) and |port|, both malloc'ed.
 * Returns 1, or 0 on a malformed argument.
 */
int apps_split_hostport(const char *arg, char **host, char **port,
                        int port_only_ok);

/* apps_connect opens a TCP connection, blocking; returns the fd or -1. */
int apps_connect(const char *host, const char *port);

/* apps_listen opens a listening TCP socket; returns the fd or -1. */
int apps_listen(const char *host, const char *port);

/*
 * apps_std_fds opens /dev/null on closed standard descriptors, so that no
 * socket becomes "stdin" by accident.
 */
void apps_std_fds(void);

/* apps_set_nonblock puts |fd| in non-blocking mode; 1 on success. */
int apps_set_nonblock(int fd);

/* A growable byte queue: |len| bytes at |data + off|. */
typedef struct apps_buf_st {
    unsigned char *data;
    size_t off;
    size_t len;
    size_t cap;
} APPS_BUF;

int apps_buf_append(APPS_BUF *b, const void *data, size_t len);
void apps_buf_consume(APPS_BUF *b, size_t len);
void apps_buf_free(APPS_BUF *b);
/* Never NULL, even for an empty queue, so memchr/memmem/BIO calls are safe. */
extern unsigned char apps_buf_empty[1];
#define APPS_BUF_PTR(b) ((b)->data ? (b)->data + (b)->off : apps_buf_empty)

/* In-band control lines. */
enum apps_ctl {
    APPS_CTL_NONE,
    APPS_CTL_MORE,
    APPS_CTL_STOPTLS,
    APPS_CTL_STARTTLS
};

/*
 * apps_ctl_find scans |len| bytes of a stream for a control line
 * ("STOPTLS" or "STARTTLS", ended by LF or CRLF) at a line start; |bol|
 * says whether |buf| begins a line, |eof| that no more bytes follow.  It
 * returns how many bytes from |buf| are ordinary data and sets |*ctl|:
 * APPS_CTL_NONE (all of them are), APPS_CTL_STOPTLS or APPS_CTL_STARTTLS
 * (a control line of |*ctl_len| bytes follows them), or APPS_CTL_MORE (what
 * follows may start a control line: wait for more bytes).
 */
size_t apps_ctl_find(const unsigned char *buf, size_t len, int bol, int eof,
                     enum apps_ctl *ctl, size_t *ctl_len);

/* apps_bol_after tells whether the byte after |buf[len-1]| begins a line. */
int apps_bol_after(const unsigned char *buf, size_t len, int bol);

/* apps_open_keylog opens |path| for appending NSS key log lines. */
FILE *apps_open_keylog(const char *path);

#endif /* APPS_COMMON_H */
