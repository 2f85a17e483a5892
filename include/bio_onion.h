/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

#ifndef BIO_ONION_H
#define BIO_ONION_H

#include <stddef.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * bio_onion: nested TLS as an OpenSSL filter BIO.
 *
 * An onion BIO holds a stack of TLS layers over whatever BIO comes next in
 * the chain (a socket, a connect BIO, a BIO pair, another onion, a
 * BIO_f_ssl).  Layer 0 is the outermost: its records go to the next BIO.
 * Layer depth-1 is the innermost: the application's bytes go in and come
 * out there.  On read, bytes pass through layer 0 first, then inward; on
 * write, the innermost layer encrypts first, then each layer outward.
 *
 *      application
 *          |  BIO_read / BIO_write / BIO_ctrl
 *      onion BIO:  layer[depth-1] ... layer[1]  layer[0]
 *          |
 *      next BIO (the transport)
 *
 * With depth 0 the onion is a transparent pass-through.
 *
 * Every operation is a BIO_ctrl command, so it reaches the onion through
 * filters that forward unknown ctrls (BIO_f_buffer, for example).  The
 * commands, with their arguments and return values:
 *
 *   command                        larg       parg              return
 *   BIO_C_ONION_PUSH_SSL           0          SSL *             1 / <= 0
 *   BIO_C_ONION_PUSH_SSL_WITH_DATA 0          BIO_ONION_PUSH *  1 / <= 0
 *   BIO_C_ONION_POP                0          NULL              1 / <= 0
 *   BIO_C_ONION_GET_DEPTH          0          NULL              depth
 *   BIO_C_ONION_GET_SSL            index      SSL **            1 / 0
 *   BIO_C_ONION_PEER_CLOSED        0          NULL              1 / 0
 *   BIO_C_ONION_GET_ERROR_LAYER    0          int *             1 / 0
 *   BIO_C_ONION_SET_FLAGS          flags      NULL              1
 *   BIO_C_ONION_GET_FLAGS          0          NULL              flags
 *   BIO_C_ONION_SET_CALLBACK       0          BIO_ONION_CALLBACK * 1
 *   BIO_C_ONION_GET_RECORD_ROOM    0          NULL              bytes / 0
 *
 * The macros expand to BIO_ctrl and so return a long, as OpenSSL's own
 * BIO_set_ssl or BIO_do_handshake do; their results may be ignored without
 * a warning.
 *
 * Standard ctrls: BIO_pending, BIO_wpending, BIO_flush, BIO_do_handshake,
 * BIO_eof, BIO_reset, BIO_get_ssl (innermost layer) are answered by the
 * onion; every other ctrl is forwarded to the next BIO, except kernel TLS
 * ctrls while a layer is present, which are refused so that no inner
 * layer's key reaches the socket.
 *
 * Retries follow OpenSSL's BIOs (BIO_should_retry, BIO_should_read,
 * BIO_should_write), through every layer in both directions.  The onion
 * gathers the records of all its layers into one transport write per call;
 * what the transport does not take yet stays in the onion (BIO_wpending)
 * and goes first on the next call.  A call that must wait to read while
 * such bytes are held sets both BIO_should_read and BIO_should_write: wait
 * for either direction.
 */

/*
 * Ctrl numbers: well clear of OpenSSL's own BIO_C_* and BIO_CTRL_* values
 * (all below 200) and of its test BIOs (1 << 15 upward).
 */
#define BIO_C_ONION_BASE 0x4F4E00
#define BIO_C_ONION_PUSH_SSL (BIO_C_ONION_BASE + 1)
#define BIO_C_ONION_PUSH_SSL_WITH_DATA (BIO_C_ONION_BASE + 2)
#define BIO_C_ONION_POP (BIO_C_ONION_BASE + 3)
#define BIO_C_ONION_GET_DEPTH (BIO_C_ONION_BASE + 4)
#define BIO_C_ONION_GET_SSL (BIO_C_ONION_BASE + 5)
#define BIO_C_ONION_PEER_CLOSED (BIO_C_ONION_BASE + 6)
#define BIO_C_ONION_GET_ERROR_LAYER (BIO_C_ONION_BASE + 7)
#define BIO_C_ONION_SET_FLAGS (BIO_C_ONION_BASE + 8)
#define BIO_C_ONION_GET_FLAGS (BIO_C_ONION_BASE + 9)
#define BIO_C_ONION_SET_CALLBACK (BIO_C_ONION_BASE + 10)
#define BIO_C_ONION_GET_RECORD_ROOM (BIO_C_ONION_BASE + 12)

/* Flags for BIO_onion_set_flags. */

/*
 * BIO_ONION_AUTO_POP: when the peer closes the innermost layer cleanly,
 * answer its close_notify, remove the layer, raise BIO_ONION_EV_POPPED and
 * go on reading from the layer below, so that the reader sees one
 * continuous stream.  Without it, BIO_read returns 0 and
 * BIO_onion_peer_closed returns 1 until the application pops the layer.
 */
#define BIO_ONION_AUTO_POP 0x1U

/*
 * BIO_ONION_NO_RECORD_FIT: do not shrink the max_send_fragment of layers
 * inside another layer.  By default an inner layer's records are sized to
 * fit whole into one record of the layer outside it.
 */
#define BIO_ONION_NO_RECORD_FIT 0x2U

/*
 * BIO_ONION_RR_APP_DATA is the retry reason (BIO_get_retry_reason) that
 * BIO_onion_pop sets when the peer still sends application data on the
 * closing layer: read it with BIO_read (the last read returns 0), then call
 * BIO_onion_pop again.
 */
#define BIO_ONION_RR_APP_DATA 0x4F4E01

/* Events passed to the callback set with BIO_onion_set_callback. */
#define BIO_ONION_EV_HANDSHAKE_DONE 1 /* the layer's handshake completed */
#define BIO_ONION_EV_PEER_CLOSED 2    /* the peer sent close_notify */
#define BIO_ONION_EV_POPPED 3         /* the layer is about to be freed */
#define BIO_ONION_EV_FAILED 4         /* the layer failed (see error queue) */

/* Values of BIO_onion_get_error_layer besides a layer index. */
#define BIO_ONION_ERROR_TRANSPORT (-1)
#define BIO_ONION_ERROR_NONE (-2)

/*
 * Reason codes of the bio_onion error library (BIO_onion_error_library).
 * The error data names the layer ("layer 1").
 */
#define BIO_ONION_R_NO_NEXT_BIO 100
#define BIO_ONION_R_NO_LAYER 101
#define BIO_ONION_R_LAYER_CLOSING 102
#define BIO_ONION_R_LAYER_FAILED 103
#define BIO_ONION_R_HANDSHAKE_FAILED 104
#define BIO_ONION_R_TRANSPORT_EOF 105
#define BIO_ONION_R_TRANSPORT_ERROR 106
#define BIO_ONION_R_TRUNCATED 107
#define BIO_ONION_R_BAD_INDEX 108
#define BIO_ONION_R_SSL_IN_USE 109
#define BIO_ONION_R_BAD_WRITE_RETRY 110
#define BIO_ONION_R_LAYER_DISCARDED 111
#define BIO_ONION_R_UNSUPPORTED_SSL 112
#define BIO_ONION_R_NULL_ARGUMENT 113

/*
 * BIO_ONION_PUSH is the argument of BIO_C_ONION_PUSH_SSL_WITH_DATA.  |data|
 * is borrowed for the duration of the ctrl only; it is copied.
 */
typedef struct bio_onion_push_st {
    SSL *ssl;
    const void *data;
    size_t len;
} BIO_ONION_PUSH;

/*
 * BIO_onion_callback_fn is called with the onion BIO, one of the
 * BIO_ONION_EV_* events, the index of the layer it concerns (0 is the
 * outermost) and the argument given to BIO_onion_set_callback.  It is
 * called after the operation that caused the event has finished with the
 * layers, so it may call any BIO_onion_* function; for
 * BIO_ONION_EV_POPPED the layer is still reachable with BIO_onion_get_ssl
 * until the callback returns.
 */
typedef void (*BIO_onion_callback_fn)(BIO *b, int event, int layer, void *arg);

/*
 * BIO_ONION_CALLBACK is the argument of BIO_C_ONION_SET_CALLBACK (a function
 * pointer cannot travel through BIO_callback_ctrl, which OpenSSL 3.0
 * reserves for BIO_CTRL_SET_CALLBACK).  It is copied; |arg| stays the
 * caller's.
 */
typedef struct bio_onion_callback_st {
    BIO_onion_callback_fn cb;
    void *arg;
} BIO_ONION_CALLBACK;

/* Creating an onion BIO. */

/*
 * BIO_f_onion returns the onion filter method.  It is created once, the
 * first time it is asked for, thread-safely; it is never freed by the
 * caller.  Returns NULL if it could not be created.
 */
const BIO_METHOD *BIO_f_onion(void);

/*
 * BIO_new_onion returns a new onion BIO of depth 0, or NULL on allocation
 * failure.  The caller owns it; BIO_free frees it and every layer it holds,
 * never the next BIO (BIO_free_all frees the whole chain).
 */
BIO *BIO_new_onion(void);

/* Adding and removing layers. */

/*
 * BIO_onion_push_ssl adds |ssl| as the new innermost layer.  |ssl| must be
 * new (no handshake started, no BIOs set, not in another onion, not DTLS); its
 * connect/accept state (SSL_set_connect_state, SSL_set_accept_state, or its
 * method's default) makes the layer a client or a server.  The onion sets
 * its BIOs, turns read_ahead off and SSL_OP_IGNORE_UNEXPECTED_EOF off (a
 * layer that ends without close_notify is always an error) and sets
 * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER.  On success it returns 1 and the
 * onion takes ownership of |ssl|.  On failure it returns <= 0, raises an
 * error and |ssl| is unchanged and still the caller's.  The onion must
 * have a next BIO and its innermost layer must not be closing or failed.
 */
#define BIO_onion_push_ssl(b, ssl)                                             \
    BIO_ctrl((b), BIO_C_ONION_PUSH_SSL, 0, (void *)(ssl))

/*
 * BIO_onion_push_ssl_with_data is BIO_onion_push_ssl for a layer whose first
 * bytes the application already read from the stream below it (a STARTTLS
 * line read together with the start of a ClientHello).  The |len| bytes at
 * |data| are copied and fed to the new layer before anything further is
 * read from below.  |data| may be NULL only if |len| is 0.  Returns 1 on
 * success, taking ownership of |ssl|; <= 0 on failure, leaving |ssl| the
 * caller's.
 */
int BIO_onion_push_ssl_with_data(BIO *b, SSL *ssl, const void *data,
                                 size_t len);

/*
 * BIO_onion_push_tls creates an SSL from |ctx| (client if |client| is
 * non-zero, server otherwise) and pushes it as the new innermost layer.
 * The onion owns the SSL; reach it with BIO_onion_get_ssl(b, -1, &ssl) to
 * set a host name or other per-connection parameters before the
 * handshake.  |ctx| stays the caller's (the SSL holds its own reference).
 * Returns 1 on success, <= 0 on failure.
 */
int BIO_onion_push_tls(BIO *b, SSL_CTX *ctx, int client);

/*
 * BIO_onion_pop starts or continues the clean close of the innermost
 * layer: it completes the layer's handshake if needed, sends its
 * close_notify, waits for the peer's close_notify and then frees the
 * layer.  Returns 1 when the layer is gone (the depth is one less and the
 * connection below is kept).  Returns <= 0 with BIO_should_retry(b) set
 * when it must be called again: with BIO_should_read(b) when it needs to
 * read (and BIO_get_retry_reason(b) == BIO_ONION_RR_APP_DATA when the peer
 * still sends application data on that layer: read it with BIO_read, whose
 * last call returns 0, then pop again, so nothing is lost), with
 * BIO_should_write(b) when the transport must accept more.  Over a
 * blocking transport it blocks until the peer closes, as SSL_shutdown
 * does.  Returns <= 0 without retry, with an error raised, when there is
 * no layer or the close failed.  A layer that had failed is discarded
 * without close_notify: the depth is one less, the return value is 0 and
 * BIO_ONION_R_LAYER_DISCARDED is raised.
 */
#define BIO_onion_pop(b) BIO_ctrl((b), BIO_C_ONION_POP, 0, NULL)

/* Inspecting the layers. */

/* BIO_onion_get_depth returns the number of layers (0 for a pass-through). */
#define BIO_onion_get_depth(b)                                                 \
    ((int)BIO_ctrl((b), BIO_C_ONION_GET_DEPTH, 0, NULL))

/*
 * BIO_onion_get_ssl sets |*sslp| to the SSL of layer |index| (0 is the
 * outermost, -1 the innermost, -2 the one outside it, and so on) and
 * returns 1.  The pointer is borrowed, as with BIO_get_ssl: it stays valid
 * until the layer is popped or the onion freed.  Out of range it sets
 * |*sslp| to NULL, raises BIO_ONION_R_BAD_INDEX and returns 0.
 */
#define BIO_onion_get_ssl(b, index, sslp)                                      \
    BIO_ctrl((b), BIO_C_ONION_GET_SSL, (long)(index), (void *)(sslp))

/*
 * BIO_onion_peer_closed returns 1 when the innermost layer has received the
 * peer's close_notify and waits to be popped, 0 otherwise.
 */
#define BIO_onion_peer_closed(b)                                               \
    ((int)BIO_ctrl((b), BIO_C_ONION_PEER_CLOSED, 0, NULL))

/*
 * BIO_onion_get_error_layer tells where the last failure happened: a layer
 * index when that TLS layer failed (an alert, a verification failure, a bad
 * record, or its own truncation inside a healthy outer layer),
 * BIO_ONION_ERROR_TRANSPORT (-1) when the transport below failed or ended
 * (EOF, reset, I/O error) under a layer, BIO_ONION_ERROR_NONE (-2) when
 * nothing failed or |b| holds no onion.
 */
int BIO_onion_get_error_layer(BIO *b);

/* Flags and events. */

/* BIO_onion_set_flags replaces the BIO_ONION_* flags; returns 1. */
#define BIO_onion_set_flags(b, flags)                                          \
    BIO_ctrl((b), BIO_C_ONION_SET_FLAGS, (long)(flags), NULL)

/* BIO_onion_get_flags returns the current BIO_ONION_* flags. */
#define BIO_onion_get_flags(b)                                                 \
    ((unsigned int)BIO_ctrl((b), BIO_C_ONION_GET_FLAGS, 0, NULL))

/*
 * BIO_onion_set_callback sets the event callback (NULL removes it) and its
 * argument, which stays the caller's.  Returns 1 on success, 0 if |b| holds
 * no onion.
 */
int BIO_onion_set_callback(BIO *b, BIO_onion_callback_fn cb, void *arg);

/*
 * BIO_onion_error_library returns the OpenSSL error library number of
 * bio_onion (ERR_GET_LIB of its errors), registering it and its strings on
 * first use.
 */
int BIO_onion_error_library(void);

#ifdef __cplusplus
}
#endif

#endif /* BIO_ONION_H */
