/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

#ifndef ONION_LOCAL_H
#define ONION_LOCAL_H

#include <stddef.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "bio_onion.h"

/*
 * Private to the library: nothing here is exported (the link step keeps only
 * BIO_f_onion, BIO_new_onion and BIO_onion_*).
 */

/*
 * Size of the onion's own transport buffers (read batching, write
 * gathering): two full records of any cipher, so bulk data costs about one
 * read and one write per two records, and a record never waits for room.
 */
#define ONION_IOBUF_SIZE ((size_t)34 * 1024)

/* TLS record header and the largest plaintext a record may carry. */
#define ONION_RECORD_HEADER 5
#define ONION_MAX_FRAGMENT 16384
/* OpenSSL refuses a max_send_fragment below this. */
#define ONION_MIN_FRAGMENT 512

/* What an SSL call's result means, as SSL_get_error but without the queue. */
typedef enum {
    ONION_ST_OK,
    ONION_ST_WANT_READ,
    ONION_ST_WANT_WRITE,
    ONION_ST_WANT_OTHER,
    ONION_ST_CLOSED,
    ONION_ST_FATAL
} onion_status;

/*
 * A byte queue: |len| bytes at |data + off|.  Used for the bytes below a
 * layer that it has not read yet (leftover data, transport read-ahead) and
 * for records waiting to be written to the transport.
 */
typedef struct onion_buf_st {
    unsigned char *data;
    size_t off;
    size_t len;
    size_t cap;
} ONION_BUF;

struct onion_ctx_st;

typedef struct onion_layer_st {
    SSL *ssl;                 /* owned */
    BIO *link;                /* the SSL's rbio and wbio; owned by |ssl| */
    struct onion_ctx_st *ctx; /* the onion this layer belongs to */
    int index;                /* 0 is the outermost */
    /*
     * Bytes of this layer's record stream not read yet: leftover data
     * handed to a push, and (layer 0) the transport read-ahead.
     */
    ONION_BUF in;
    size_t frag; /* split_send_fragment set on |ssl|, 0 when left alone */
    unsigned int hs_done : 1;     /* handshake-done event raised */
    unsigned int peer_closed : 1; /* close_notify received */
    unsigned int failed : 1;      /* the SSL reported a fatal error */
    unsigned int src_eof : 1;     /* the stream below ended (for BIO_eof) */
    unsigned int in_fresh : 1;   /* |in| holds pushed bytes its SSL never saw */
    unsigned int auto_pop : 1;   /* BIO_ONION_AUTO_POP is closing it */
    unsigned int close_sent : 1; /* our close_notify left the SSL */
    unsigned int write_pending : 1; /* an SSL_write must be retried */
} ONION_LAYER;

typedef struct onion_ctx_st {
    BIO *bio;             /* the onion BIO itself; not owned */
    ONION_LAYER **layers; /* layers[0] outermost; owned */
    int depth;
    int cap;
    /*
     * At depth 0: bytes of the plaintext stream that the application has not
     * read yet (what a popped layer left below its close_notify).  At depth
     * > 0 the same role is played by the innermost layer's plaintext, so
     * this holds what a pop of an inner layer left for the application.
     */
    ONION_BUF app_in;
    ONION_BUF wbuf;     /* records gathered for one transport write */
    size_t wr_accepted; /* bytes of an application write waiting for wbuf */
    /*
     * What one record of the next BIO carries when it is TLS itself (another
     * onion, a BIO_f_ssl), else 0.  Records for a TLS next BIO are written
     * one by one, not gathered, so that each becomes one record below.
     */
    size_t below_room;
    unsigned int flags; /* BIO_ONION_* */
    BIO_onion_callback_fn cb;
    void *cb_arg;
    int error_layer;  /* BIO_ONION_ERROR_NONE, _TRANSPORT or an index */
    int op_error;     /* lowest failure seen during the current operation */
    int op_trunc;     /* layer whose stream ended without its close_notify */
    int no_transport; /* a BIO_pending probe: do not wait for the transport */
    int in_op;        /* an operation is running (callbacks deferred) */
} ONION_CTX;

/*
 * onion_layer_ssl returns the layer's SSL for a call, with the link's retry
 * flags cleared first.  The status of the call is read from those flags (as
 * SSL_get_error does); an SSL that fails without touching its BIO, such as
 * OpenSSL's 'bad write retry', would otherwise look like a retry forever.
 */
static inline SSL *onion_layer_ssl(ONION_LAYER *layer)
{
    BIO_clear_retry_flags(layer->link);
    return layer->ssl;
}

/* layer.c: the layer stack, the link BIOs and the transport buffers. */
onion_status onion_ssl_status(const SSL *s, int ret);
int onion_set_retry(BIO *b, onion_status st);
ONION_LAYER *onion_layer_new(ONION_CTX *ctx, SSL *ssl);
void onion_layer_free(ONION_LAYER *layer);
void onion_fit_records(ONION_CTX *ctx, int from);
size_t onion_record_room(ONION_CTX *ctx);
int onion_flush_wbuf(ONION_CTX *ctx);
void onion_buf_free(ONION_BUF *buf);
size_t onion_buf_take(ONION_BUF *buf, void *out, size_t outl);
int onion_buf_prepend(ONION_BUF *buf, const void *data, size_t len);
void onion_note_error(ONION_CTX *ctx, int where);
void onion_release_buffers(ONION_CTX *ctx);

/* onion_err.c: the error library. */
void onion_raise(int reason, int layer, const char *file, int line);
#define ONION_RAISE(reason, layer)                                             \
    onion_raise((reason), (layer), OPENSSL_FILE, OPENSSL_LINE)

#endif /* ONION_LOCAL_H */
