/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "onion_local.h"

/*
 * BIO_f_onion: a filter BIO holding a stack of TLS layers.  It follows
 * bf_null.c's contract (forward what it does not handle, copy the retry
 * state from below, never free what it does not own) and bio_ssl.c's retry
 * translation, layer by layer (see layer.c).
 */

static int onion_write(BIO *b, const char *data, size_t len, size_t *written);
static int onion_read(BIO *b, char *out, size_t outl, size_t *readbytes);
static int onion_puts(BIO *b, const char *str);
static long onion_ctrl(BIO *b, int cmd, long num, void *ptr);
static long onion_callback_ctrl(BIO *b, int cmd, BIO_info_cb *fp);
static int onion_new(BIO *b);
static int onion_free(BIO *b);

typedef struct onion_event_st {
    int event;
    int layer;
} ONION_EVENT;

/* The context, with the events an operation raised until it returns. */
typedef struct onion_bio_st {
    ONION_CTX ctx;
    ONION_EVENT *events;
    size_t nevents;
    size_t cap_events;
    int popping; /* the popped event is being raised */
} ONION_BIO;

static CRYPTO_ONCE onion_once = CRYPTO_ONCE_STATIC_INIT;
static BIO_METHOD *onion_method = NULL;

static void onion_method_init(void)
{
    BIO_METHOD *m =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "onion");

    if (m == NULL || !BIO_meth_set_write_ex(m, onion_write)
        || !BIO_meth_set_read_ex(m, onion_read)
        || !BIO_meth_set_puts(m, onion_puts)
        || !BIO_meth_set_ctrl(m, onion_ctrl)
        || !BIO_meth_set_callback_ctrl(m, onion_callback_ctrl)
        || !BIO_meth_set_create(m, onion_new)
        || !BIO_meth_set_destroy(m, onion_free)) {
        BIO_meth_free(m);
        return;
    }
    onion_method = m;
}

const BIO_METHOD *BIO_f_onion(void)
{
    if (!CRYPTO_THREAD_run_once(&onion_once, onion_method_init))
        return NULL;
    return onion_method;
}

BIO *BIO_new_onion(void)
{
    const BIO_METHOD *m = BIO_f_onion();

    return m != NULL ? BIO_new(m) : NULL;
}

int BIO_onion_push_ssl_with_data(BIO *b, SSL *ssl, const void *data, size_t len)
{
    BIO_ONION_PUSH push;

    push.ssl = ssl;
    push.data = data;
    push.len = len;
    return (int)BIO_ctrl(b, BIO_C_ONION_PUSH_SSL_WITH_DATA, 0, &push);
}

int BIO_onion_push_tls(BIO *b, SSL_CTX *ctx, int client)
{
    SSL *ssl;

    if (ctx == NULL) {
        ONION_RAISE(BIO_ONION_R_NULL_ARGUMENT, BIO_ONION_ERROR_NONE);
        return 0;
    }
    if ((ssl = SSL_new(ctx)) == NULL)
        return 0;
    if (client)
        SSL_set_connect_state(ssl);
    else
        SSL_set_accept_state(ssl);
    if (BIO_onion_push_ssl(b, ssl) <= 0) {
        SSL_free(ssl);
        return 0;
    }
    return 1;
}

int BIO_onion_get_error_layer(BIO *b)
{
    int where = BIO_ONION_ERROR_NONE;

    if (b == NULL || BIO_ctrl(b, BIO_C_ONION_GET_ERROR_LAYER, 0, &where) <= 0)
        return BIO_ONION_ERROR_NONE;
    return where;
}

int BIO_onion_set_callback(BIO *b, BIO_onion_callback_fn cb, void *arg)
{
    BIO_ONION_CALLBACK c;

    if (b == NULL)
        return 0;
    c.cb = cb;
    c.arg = arg;
    return BIO_ctrl(b, BIO_C_ONION_SET_CALLBACK, 0, &c) > 0;
}

/* Events and operations. */

static void queue_event(ONION_BIO *ob, int event, int layer)
{
    ONION_EVENT *e;
    size_t cap;

    if (ob->ctx.cb == NULL)
        return;
    if (ob->nevents == ob->cap_events) {
        cap = ob->cap_events == 0 ? 8 : ob->cap_events * 2;
        e = OPENSSL_realloc(ob->events, cap * sizeof(*e));
        if (e == NULL)
            return; /* an event is lost, never the data */
        ob->events = e;
        ob->cap_events = cap;
    }
    ob->events[ob->nevents].event = event;
    ob->events[ob->nevents].layer = layer;
    ob->nevents++;
}

/* Calls the callback for the events queued, once the layers are settled. */
static void dispatch_events(ONION_BIO *ob)
{
    size_t i;

    if (ob->ctx.in_op > 0)
        return;
    for (i = 0; i < ob->nevents && ob->ctx.cb != NULL; i++)
        ob->ctx.cb(ob->ctx.bio, ob->events[i].event, ob->events[i].layer,
                   ob->ctx.cb_arg);
    ob->nevents = 0;
}

static void op_begin(ONION_BIO *ob)
{
    ob->ctx.op_error = BIO_ONION_ERROR_NONE;
    ob->ctx.op_trunc = -1;
    ob->ctx.in_op++;
}

/* Raises the handshake-done events and fits the records to the new ciphers. */
static void check_handshakes(ONION_BIO *ob)
{
    ONION_CTX *ctx = &ob->ctx;
    ONION_LAYER *layer;
    int i;

    for (i = 0; i < ctx->depth; i++) {
        layer = ctx->layers[i];
        if (layer->hs_done || layer->failed
            || !SSL_is_init_finished(layer->ssl))
            continue;
        layer->hs_done = 1;
        onion_fit_records(ctx, i);
        queue_event(ob, BIO_ONION_EV_HANDSHAKE_DONE, i);
    }
}

/*
 * fail settles a fatal error of the current operation: it finds the layer
 * where it started, marks that layer and every layer inside it failed,
 * raises our reason with the layer on top of whatever OpenSSL raised, and
 * returns -1.
 */
static int fail(ONION_BIO *ob)
{
    ONION_CTX *ctx = &ob->ctx;
    int where = ctx->op_error;
    int reason, i;

    if (where == BIO_ONION_ERROR_NONE)
        where = ctx->depth - 1;
    if (where == BIO_ONION_ERROR_TRANSPORT)
        reason = ctx->depth > 0 && ctx->layers[0]->src_eof
            ? BIO_ONION_R_TRANSPORT_EOF
            : BIO_ONION_R_TRANSPORT_ERROR;
    else if (where == ctx->op_trunc)
        reason = BIO_ONION_R_TRUNCATED;
    else if (!ctx->layers[where]->hs_done)
        reason = BIO_ONION_R_HANDSHAKE_FAILED;
    else
        reason = BIO_ONION_R_LAYER_FAILED;
    for (i = where < 0 ? 0 : where; i < ctx->depth; i++)
        ctx->layers[i]->failed = 1;
    ctx->error_layer = where;
    ONION_RAISE(reason, where);
    queue_event(ob, BIO_ONION_EV_FAILED, where);
    return -1;
}

/* Refuses I/O on a failed stack, naming where it failed. */
static int refuse_failed(ONION_BIO *ob)
{
    ONION_RAISE(BIO_ONION_R_LAYER_FAILED, ob->ctx.error_layer);
    return -1;
}

/*
 * op_end finishes an operation whose result is |ret|: it sends what the
 * layers gathered (tickets, key updates, alerts written while reading),
 * frees the buffers of an idle connection, raises the handshake events and
 * calls the callback.
 */
static int op_end(ONION_BIO *ob, int ret)
{
    ONION_CTX *ctx = &ob->ctx;
    BIO *b = ctx->bio;
    int f;

    if (ctx->wbuf.len > 0 && !ctx->no_transport) {
        f = onion_flush_wbuf(ctx);
        if (f < 0 && ret > 0) {
            /* The data read stands; the broken transport shows next time. */
            ctx->error_layer = BIO_ONION_ERROR_TRANSPORT;
        } else if (f < 0 && !BIO_should_retry(b)) {
            /* already failing */
        } else if (f < 0) {
            BIO_clear_retry_flags(b);
            ret = fail(ob);
        } else if (f == 0 && ret <= 0 && BIO_should_retry(b)) {
            /*
             * Waiting to read, with bytes the transport would not take: the
             * peer may wait for them, or be blocked writing to us.  Ask for
             * either direction.
             */
            BIO_set_flags(b, BIO_FLAGS_WRITE);
        }
    }
    onion_release_buffers(ctx);
    check_handshakes(ob);
    ctx->in_op--;
    dispatch_events(ob);
    return ret;
}

/* Removes the innermost layer, whose unread bytes go to the stream above. */
static void remove_innermost(ONION_BIO *ob)
{
    ONION_CTX *ctx = &ob->ctx;
    ONION_LAYER *layer = ctx->layers[ctx->depth - 1];
    int i, failed = 0;

    /* Bytes past its close_notify are the next bytes of the layer below. */
    onion_buf_free(&ctx->app_in);
    ctx->app_in = layer->in;
    memset(&layer->in, 0, sizeof(layer->in));
    ctx->layers[--ctx->depth] = NULL;
    onion_layer_free(layer);
    for (i = 0; i < ctx->depth; i++)
        failed |= ctx->layers[i]->failed;
    if (!failed && ctx->error_layer != BIO_ONION_ERROR_TRANSPORT)
        ctx->error_layer = BIO_ONION_ERROR_NONE;
    if (ctx->depth == 0 && ctx->app_in.len == 0)
        onion_buf_free(&ctx->app_in);
}

/* Raises the popped event while the layer is still there, then frees it. */
static void pop_innermost(ONION_BIO *ob)
{
    int index = ob->ctx.depth - 1;

    /* A handshake that completed in this very operation is reported first. */
    check_handshakes(ob);
    queue_event(ob, BIO_ONION_EV_POPPED, index);
    ob->ctx.in_op--;
    ob->popping = 1;
    dispatch_events(ob);
    ob->popping = 0;
    ob->ctx.in_op++;
    /* The callback may not pop: the layer it was told about is still here. */
    if (ob->ctx.depth == index + 1)
        remove_innermost(ob);
}

/*
 * shutdown_once calls SSL_shutdown on |layer|.  Returns its result (0: our
 * close_notify is out, 1: both are), or -1 with retry flags or an error.
 * A close_notify that could not be written at once stays pending inside the
 * SSL with SSL_SENT_SHUTDOWN already set, so whether it went out is
 * remembered here: only a further SSL_shutdown sends it.
 */
static int shutdown_once(ONION_BIO *ob, ONION_LAYER *layer)
{
    int ret = SSL_shutdown(onion_layer_ssl(layer));
    onion_status st;

    if (ret >= 0) {
        layer->close_sent = 1;
        return ret;
    }
    st = onion_ssl_status(layer->ssl, ret);
    if (st == ONION_ST_FATAL || st == ONION_ST_CLOSED)
        return fail(ob);
    return onion_set_retry(ob->ctx.bio, st);
}

/*
 * pop_step advances the clean close of the innermost layer.  Returns 1 when
 * the layer is gone, -1 with retry flags or an error otherwise.
 */
static int pop_step(ONION_BIO *ob)
{
    ONION_CTX *ctx = &ob->ctx;
    BIO *b = ctx->bio;
    ONION_LAYER *layer = ctx->layers[ctx->depth - 1];
    SSL *s = layer->ssl;
    unsigned char c;
    onion_status st;
    int ret;

    if (ctx->app_in.len > 0) {
        /* Bytes the application has not read yet come first. */
        BIO_set_retry_read(b);
        BIO_set_retry_reason(b, BIO_ONION_RR_APP_DATA);
        return -1;
    }
    if (layer->write_pending) {
        /*
         * OpenSSL queues a close_notify behind a record still to be written
         * and fails the layer if anything but the application's own retry of
         * that write sends it: the close waits for that retry.  Meanwhile
         * push what is held below, so that a dead transport shows.
         */
        ret = onion_flush_wbuf(ctx);
        if (ret > 0 && BIO_next(b) != NULL) {
            ret = (int)BIO_ctrl(BIO_next(b), BIO_CTRL_FLUSH, 0, NULL);
            ret = ret > 0 ? 1 : BIO_should_retry(BIO_next(b)) ? 0 : -1;
        }
        if (ret < 0) {
            onion_note_error(ctx, BIO_ONION_ERROR_TRANSPORT);
            return fail(ob);
        }
        BIO_set_retry_write(b);
        return -1;
    }
    if (!SSL_is_init_finished(s) && !layer->close_sent) {
        st = onion_ssl_status(s, SSL_do_handshake(onion_layer_ssl(layer)));
        if (st == ONION_ST_FATAL || st == ONION_ST_CLOSED)
            return fail(ob);
        if (st != ONION_ST_OK)
            return onion_set_retry(b, st);
    }
    if (!layer->close_sent && shutdown_once(ob, layer) < 0)
        return -1;
    if ((SSL_get_shutdown(s) & SSL_RECEIVED_SHUTDOWN) == 0) {
        /* Wait for the peer's close_notify, delivering what comes first. */
        st = onion_ssl_status(s, SSL_peek(onion_layer_ssl(layer), &c, 1));
        switch (st) {
        case ONION_ST_OK:
            BIO_set_retry_read(b);
            BIO_set_retry_reason(b, BIO_ONION_RR_APP_DATA);
            return -1;
        case ONION_ST_CLOSED:
            layer->peer_closed = 1;
            queue_event(ob, BIO_ONION_EV_PEER_CLOSED, layer->index);
            break;
        case ONION_ST_FATAL:
            return fail(ob);
        default:
            return onion_set_retry(b, st);
        }
    }
    /* Both close_notify exchanged: 1 once ours has left the SSL. */
    ret = shutdown_once(ob, layer);
    if (ret < 0)
        return -1;
    if (ret == 0) {
        BIO_set_retry_write(b);
        return -1;
    }
    /* Our close_notify must be on the wire before the layer goes. */
    ret = onion_flush_wbuf(ctx);
    if (ret < 0)
        return fail(ob);
    if (ret == 0) {
        BIO_copy_next_retry(b);
        return -1;
    }
    pop_innermost(ob);
    return 1;
}

static int pop_ctrl(ONION_BIO *ob)
{
    ONION_CTX *ctx = &ob->ctx;
    int index = ctx->depth - 1;

    if (ctx->depth == 0) {
        ONION_RAISE(BIO_ONION_R_NO_LAYER, BIO_ONION_ERROR_NONE);
        return 0;
    }
    if (ctx->layers[index]->failed) {
        pop_innermost(ob);
        ONION_RAISE(BIO_ONION_R_LAYER_DISCARDED, index);
        return 0;
    }
    return pop_step(ob);
}

/* Push. */

static int push_ctrl(ONION_BIO *ob, SSL *ssl, const void *data, size_t len)
{
    ONION_CTX *ctx = &ob->ctx;
    ONION_LAYER *layer, *inner, **layers;
    int cap;

    if (ssl == NULL || (data == NULL && len > 0)) {
        ONION_RAISE(BIO_ONION_R_NULL_ARGUMENT, BIO_ONION_ERROR_NONE);
        return 0;
    }
    if (BIO_next(ctx->bio) == NULL) {
        ONION_RAISE(BIO_ONION_R_NO_NEXT_BIO, BIO_ONION_ERROR_NONE);
        return 0;
    }
    if (ctx->depth > 0) {
        inner = ctx->layers[ctx->depth - 1];
        if (inner->failed) {
            ONION_RAISE(BIO_ONION_R_LAYER_FAILED, inner->index);
            return 0;
        }
        if (inner->peer_closed || SSL_get_shutdown(inner->ssl) != 0) {
            ONION_RAISE(BIO_ONION_R_LAYER_CLOSING, inner->index);
            return 0;
        }
    }
    if (SSL_is_dtls(ssl)) {
        ONION_RAISE(BIO_ONION_R_UNSUPPORTED_SSL, ctx->depth);
        return 0;
    }
    /*
     * A started SSL cannot change transports, and BIOs already set on it
     * would be freed by SSL_set_bio: a push must never close the caller's
     * socket, so such an SSL is refused.
     */
    if (!SSL_in_before(ssl) || SSL_get_rbio(ssl) != NULL
        || SSL_get_wbio(ssl) != NULL) {
        ONION_RAISE(BIO_ONION_R_SSL_IN_USE, ctx->depth);
        return 0;
    }
    if (ctx->depth == ctx->cap) {
        cap = ctx->cap == 0 ? 4 : ctx->cap * 2;
        layers = OPENSSL_realloc(ctx->layers, (size_t)cap * sizeof(*layers));
        if (layers == NULL) {
            ERR_raise(ERR_LIB_BIO, ERR_R_MALLOC_FAILURE);
            return 0;
        }
        ctx->layers = layers;
        ctx->cap = cap;
    }
    if ((layer = onion_layer_new(ctx, ssl)) == NULL)
        return 0;
    /*
     * The new layer reads first the bytes the application already took from
     * the stream, then what the application had not read yet, then the
     * stream below.
     */
    if ((ctx->app_in.len > 0
         && !onion_buf_prepend(&layer->in, ctx->app_in.data + ctx->app_in.off,
                               ctx->app_in.len))
        || !onion_buf_prepend(&layer->in, data, len)) {
        onion_layer_free(layer);
        return 0;
    }

    /* Nothing fails from here: the SSL becomes ours. */
    onion_buf_free(&ctx->app_in);
    SSL_set_bio(ssl, layer->link, layer->link);
    SSL_set_read_ahead(ssl, 0);
    SSL_clear_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_set_mode(ssl,
                 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_AUTO_RETRY);
    if (SSL_is_server(ssl))
        SSL_set_accept_state(ssl);
    else
        SSL_set_connect_state(ssl);
    layer->in_fresh = layer->in.len > 0;
    layer->index = ctx->depth;
    ctx->layers[ctx->depth++] = layer;
    onion_fit_records(ctx, layer->index);
    return 1;
}

/* Read and write. */

static int read_op(ONION_BIO *ob, char *out, size_t outl, size_t *readbytes)
{
    ONION_CTX *ctx = &ob->ctx;
    BIO *b = ctx->bio;
    BIO *next = BIO_next(b);
    ONION_LAYER *layer;
    onion_status st;
    int ret;

    for (;;) {
        if (ctx->app_in.len > 0) {
            *readbytes = onion_buf_take(&ctx->app_in, out, outl);
            if (ctx->app_in.len == 0)
                onion_buf_free(&ctx->app_in);
            return 1;
        }
        if (ctx->depth == 0) {
            ret = BIO_read(next, out, outl > INT_MAX ? INT_MAX : (int)outl);
            if (ret > 0) {
                *readbytes = (size_t)ret;
                return 1;
            }
            BIO_copy_next_retry(b);
            return ret;
        }
        layer = ctx->layers[ctx->depth - 1];
        if (layer->failed)
            return refuse_failed(ob);
        if (layer->peer_closed) {
            /*
             * With AUTO_POP, a close the peer started is answered, the layer
             * dropped and the read goes on below; the answer may take
             * several calls.  A close we started ends the stream here: the
             * application pops.
             */
            if (!layer->auto_pop
                && ((ctx->flags & BIO_ONION_AUTO_POP) == 0
                    || (SSL_get_shutdown(layer->ssl) & SSL_SENT_SHUTDOWN) != 0))
                return 0;
            layer->auto_pop = 1;
            if (pop_step(ob) <= 0)
                return -1;
            continue;
        }
        ret = SSL_read(onion_layer_ssl(layer), out,
                       outl > INT_MAX ? INT_MAX : (int)outl);
        st = onion_ssl_status(layer->ssl, ret);
        switch (st) {
        case ONION_ST_OK:
            *readbytes = (size_t)ret;
            return 1;
        case ONION_ST_CLOSED:
            layer->peer_closed = 1;
            queue_event(ob, BIO_ONION_EV_PEER_CLOSED, layer->index);
            continue;
        case ONION_ST_FATAL:
            return fail(ob);
        default:
            return onion_set_retry(b, st);
        }
    }
}

static int onion_read(BIO *b, char *out, size_t outl, size_t *readbytes)
{
    ONION_BIO *ob = BIO_get_data(b);
    int ret;

    *readbytes = 0;
    BIO_clear_retry_flags(b);
    if (ob == NULL || out == NULL || BIO_next(b) == NULL)
        return 0;
    if (outl == 0)
        return 0;
    op_begin(ob);
    if (ob->ctx.wbuf.len > 0 && onion_flush_wbuf(&ob->ctx) < 0)
        ret = fail(ob);
    else
        ret = read_op(ob, out, outl, readbytes);
    return op_end(ob, ret);
}

static int write_op(ONION_BIO *ob, const char *data, size_t len,
                    size_t *written)
{
    ONION_CTX *ctx = &ob->ctx;
    BIO *b = ctx->bio;
    BIO *next = BIO_next(b);
    ONION_LAYER *layer;
    onion_status st;
    int ret;

    if (ctx->wr_accepted > 0 || ctx->wbuf.len > 0) {
        /* Earlier records first; a retried write collects its count. */
        ret = onion_flush_wbuf(ctx);
        if (ret < 0)
            return fail(ob);
        if (ret == 0) {
            BIO_copy_next_retry(b);
            return -1;
        }
        if (ctx->wr_accepted > 0) {
            if (len < ctx->wr_accepted) {
                ONION_RAISE(BIO_ONION_R_BAD_WRITE_RETRY, ctx->depth - 1);
                return -1;
            }
            *written = ctx->wr_accepted;
            ctx->wr_accepted = 0;
            return 1;
        }
    }
    if (ctx->depth == 0) {
        ret = BIO_write(next, data, len > INT_MAX ? INT_MAX : (int)len);
        if (ret > 0) {
            *written = (size_t)ret;
            return 1;
        }
        BIO_copy_next_retry(b);
        return ret;
    }
    layer = ctx->layers[ctx->depth - 1];
    if (layer->failed)
        return refuse_failed(ob);
    if ((SSL_get_shutdown(layer->ssl) & SSL_SENT_SHUTDOWN) != 0) {
        ONION_RAISE(BIO_ONION_R_LAYER_CLOSING, layer->index);
        return -1;
    }
    ret = SSL_write(onion_layer_ssl(layer), data,
                    len > INT_MAX ? INT_MAX : (int)len);
    st = onion_ssl_status(layer->ssl, ret);
    layer->write_pending = st != ONION_ST_OK;
    if (st == ONION_ST_FATAL || st == ONION_ST_CLOSED)
        return fail(ob);
    if (st != ONION_ST_OK)
        return onion_set_retry(b, st);
    /* The records are gathered: send them before reporting the write. */
    switch (onion_flush_wbuf(ctx)) {
    case 1:
        *written = (size_t)ret;
        return 1;
    case 0:
        ctx->wr_accepted = (size_t)ret;
        BIO_copy_next_retry(b);
        return -1;
    default:
        return fail(ob);
    }
}

static int onion_write(BIO *b, const char *data, size_t len, size_t *written)
{
    ONION_BIO *ob = BIO_get_data(b);

    *written = 0;
    BIO_clear_retry_flags(b);
    if (ob == NULL || data == NULL || BIO_next(b) == NULL)
        return 0;
    if (len == 0)
        return 1;
    op_begin(ob);
    return op_end(ob, write_op(ob, data, len, written));
}

static int onion_puts(BIO *b, const char *str)
{
    size_t written = 0;
    int ret = onion_write(b, str, strlen(str), &written);

    return ret > 0 ? (int)written : ret;
}

/* Ctrls. */

/*
 * pending_probe answers BIO_pending: > 0 whenever a read can make progress
 * without the transport.  Bytes decrypted by an outer layer, or several
 * inner records packed in one outer record, sit inside the SSLs where
 * polling the socket cannot see them; so the probe peeks at the innermost
 * layer with the transport switched off.  A partial record gives 0, so a
 * poll loop never spins.
 */
static long pending_probe(ONION_BIO *ob)
{
    ONION_CTX *ctx = &ob->ctx;
    ONION_LAYER *layer;
    unsigned char c;
    onion_status st;
    long n;
    int ret, i;

    if (ctx->app_in.len > 0)
        return (long)ctx->app_in.len;
    if (ctx->depth == 0) {
        if (BIO_next(ctx->bio) == NULL)
            return 0;
        return BIO_ctrl(BIO_next(ctx->bio), BIO_CTRL_PENDING, 0, NULL);
    }
    layer = ctx->layers[ctx->depth - 1];
    if (layer->failed || layer->peer_closed)
        return 1; /* a read returns at once */
    /*
     * Bytes handed to a push that the layer has not seen yet: a read will
     * at least take them into its handshake.  (Bytes it has seen and left
     * are a partial record and do not count.)
     */
    for (i = 0, n = 0; i < ctx->depth; i++)
        if (ctx->layers[i]->in_fresh)
            n += (long)ctx->layers[i]->in.len;
    if (n > 0)
        return n;
    if ((n = SSL_pending(layer->ssl)) > 0)
        return n;
    if (!SSL_is_init_finished(layer->ssl))
        return 0;
    op_begin(ob);
    ctx->no_transport = 1;
    ret = SSL_peek(onion_layer_ssl(layer), &c, 1);
    ctx->no_transport = 0;
    st = onion_ssl_status(layer->ssl, ret);
    switch (st) {
    case ONION_ST_OK:
        n = SSL_pending(layer->ssl);
        n = n > 0 ? n : 1;
        break;
    case ONION_ST_CLOSED:
        layer->peer_closed = 1;
        queue_event(ob, BIO_ONION_EV_PEER_CLOSED, layer->index);
        n = 1;
        break;
    case ONION_ST_FATAL:
        fail(ob);
        n = 1;
        break;
    default:
        n = 0;
        break;
    }
    /* The probe sends nothing: a blocking transport must not block here. */
    ctx->no_transport = 1;
    op_end(ob, 1);
    ctx->no_transport = 0;
    return n;
}

static long do_handshake(ONION_BIO *ob)
{
    ONION_CTX *ctx = &ob->ctx;
    BIO *b = ctx->bio;
    BIO *next = BIO_next(b);
    unsigned long before;
    onion_status st;
    long ret;
    int i;

    if (ctx->depth == 0) {
        /*
         * A connect BIO below connects; a BIO with nothing to do does not
         * know the ctrl and answers 0 without raising an error.
         */
        before = ERR_peek_last_error();
        ret = BIO_ctrl(next, BIO_C_DO_STATE_MACHINE, 0, NULL);
        BIO_copy_next_retry(b);
        if (ret <= 0 && !BIO_should_retry(b) && ERR_peek_last_error() == before)
            ret = 1;
        return ret;
    }
    op_begin(ob);
    ret = 1;
    if (ctx->wbuf.len > 0 && onion_flush_wbuf(ctx) < 0)
        ret = fail(ob);
    for (i = 0; ret > 0 && i < ctx->depth; i++) {
        SSL *s = ctx->layers[i]->ssl;

        if (ctx->layers[i]->failed) {
            ret = refuse_failed(ob);
            break;
        }
        if (SSL_is_init_finished(s))
            continue;
        st = onion_ssl_status(
            s, SSL_do_handshake(onion_layer_ssl(ctx->layers[i])));
        if (st == ONION_ST_FATAL || st == ONION_ST_CLOSED)
            ret = fail(ob);
        else if (st != ONION_ST_OK)
            ret = onion_set_retry(b, st);
    }
    if (ret > 0) {
        switch (onion_flush_wbuf(ctx)) {
        case 0:
            BIO_copy_next_retry(b);
            ret = -1;
            break;
        case -1:
            ret = fail(ob);
            break;
        }
    }
    return op_end(ob, (int)ret);
}

static void free_layers(ONION_CTX *ctx)
{
    while (ctx->depth > 0) {
        onion_layer_free(ctx->layers[ctx->depth - 1]);
        ctx->layers[--ctx->depth] = NULL;
    }
    onion_buf_free(&ctx->app_in);
    onion_buf_free(&ctx->wbuf);
    ctx->wr_accepted = 0;
    ctx->error_layer = BIO_ONION_ERROR_NONE;
}

/* Kernel TLS must never reach the socket from under a layer. */
static int is_ktls_ctrl(int cmd)
{
    switch (cmd) {
#ifdef BIO_CTRL_SET_KTLS
    case BIO_CTRL_SET_KTLS:
#endif
#ifdef BIO_CTRL_GET_KTLS_SEND
    case BIO_CTRL_GET_KTLS_SEND:
#endif
#ifdef BIO_CTRL_GET_KTLS_RECV
    case BIO_CTRL_GET_KTLS_RECV:
#endif
#ifdef BIO_CTRL_SET_KTLS_TX_SEND_CTRL_MSG
    case BIO_CTRL_SET_KTLS_TX_SEND_CTRL_MSG:
#endif
#ifdef BIO_CTRL_CLEAR_KTLS_TX_CTRL_MSG
    case BIO_CTRL_CLEAR_KTLS_TX_CTRL_MSG:
#endif
        return 1;
    default:
        return 0;
    }
}

static long onion_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    ONION_BIO *ob = BIO_get_data(b);
    ONION_CTX *ctx;
    BIO *next = BIO_next(b);
    BIO_ONION_PUSH *push;
    long ret;
    int index;

    if (ob == NULL)
        return 0;
    ctx = &ob->ctx;
    switch (cmd) {
    case BIO_C_ONION_PUSH_SSL:
        return push_ctrl(ob, ptr, NULL, 0);
    case BIO_C_ONION_PUSH_SSL_WITH_DATA:
        push = ptr;
        if (push == NULL) {
            ONION_RAISE(BIO_ONION_R_NULL_ARGUMENT, BIO_ONION_ERROR_NONE);
            return 0;
        }
        return push_ctrl(ob, push->ssl, push->data, push->len);
    case BIO_C_ONION_POP:
        BIO_clear_retry_flags(b);
        if (ctx->in_op > 0 || ob->popping) {
            /* From a callback: the layer it names must stay. */
            ONION_RAISE(BIO_ONION_R_LAYER_CLOSING, ctx->depth - 1);
            return 0;
        }
        op_begin(ob);
        return op_end(ob, pop_ctrl(ob));
    case BIO_C_ONION_GET_DEPTH:
        return ctx->depth;
    case BIO_C_ONION_GET_SSL:
        index = (int)num;
        if (index < 0)
            index += ctx->depth;
        if (ptr == NULL) {
            ONION_RAISE(BIO_ONION_R_NULL_ARGUMENT, BIO_ONION_ERROR_NONE);
            return 0;
        }
        if (num < INT_MIN || num > INT_MAX || index < 0
            || index >= ctx->depth) {
            *(SSL **)ptr = NULL;
            ONION_RAISE(BIO_ONION_R_BAD_INDEX, BIO_ONION_ERROR_NONE);
            return 0;
        }
        *(SSL **)ptr = ctx->layers[index]->ssl;
        return 1;
    case BIO_C_ONION_PEER_CLOSED:
        return ctx->depth > 0 && ctx->layers[ctx->depth - 1]->peer_closed;
    case BIO_C_ONION_GET_ERROR_LAYER:
        if (ptr == NULL)
            return 0;
        *(int *)ptr = ctx->error_layer;
        return 1;
    case BIO_C_ONION_SET_FLAGS:
        ctx->flags = (unsigned int)num;
        onion_fit_records(ctx, 0);
        return 1;
    case BIO_C_ONION_GET_FLAGS:
        return (long)ctx->flags;
    case BIO_C_ONION_SET_CALLBACK:
        if (ptr == NULL)
            return 0;
        ctx->cb = ((BIO_ONION_CALLBACK *)ptr)->cb;
        ctx->cb_arg = ((BIO_ONION_CALLBACK *)ptr)->arg;
        return 1;
    case BIO_C_ONION_GET_RECORD_ROOM:
        return (long)onion_record_room(ctx);
    case BIO_C_GET_SSL:
        if (ctx->depth == 0)
            break;
        if (ptr == NULL)
            return 0;
        *(SSL **)ptr = ctx->layers[ctx->depth - 1]->ssl;
        return 1;
    case BIO_CTRL_PENDING:
        return pending_probe(ob);
    case BIO_CTRL_WPENDING:
        ret = (long)ctx->wbuf.len;
        if (next != NULL)
            ret += BIO_ctrl(next, BIO_CTRL_WPENDING, 0, NULL);
        return ret;
    case BIO_CTRL_EOF:
        if (ctx->app_in.len > 0)
            return 0;
        if (ctx->depth > 0)
            return ctx->layers[ctx->depth - 1]->peer_closed;
        return next != NULL ? BIO_ctrl(next, cmd, num, ptr) : 1;
    case BIO_CTRL_FLUSH:
        BIO_clear_retry_flags(b);
        if (next == NULL)
            return 0;
        switch (onion_flush_wbuf(ctx)) {
        case 0:
            BIO_copy_next_retry(b);
            return 0;
        case -1:
            op_begin(ob);
            return op_end(ob, fail(ob));
        }
        ret = BIO_ctrl(next, cmd, num, ptr);
        BIO_copy_next_retry(b);
        return ret;
    case BIO_C_DO_STATE_MACHINE:
        BIO_clear_retry_flags(b);
        if (next == NULL)
            return 0;
        return do_handshake(ob);
    case BIO_CTRL_RESET:
        free_layers(ctx);
        break;
    case BIO_CTRL_DUP:
        /* Layers hold live TLS state: only an empty onion can be copied. */
        if (ctx->depth > 0)
            return 0;
        return BIO_ctrl((BIO *)ptr, BIO_C_ONION_SET_FLAGS, (long)ctx->flags,
                        NULL);
    case BIO_CTRL_PUSH:
    case BIO_CTRL_POP:
        /* The next BIO changes: layer 0 reads it afresh; refit its records. */
        ret = next != NULL ? BIO_ctrl(next, cmd, num, ptr) : 0;
        if (cmd == BIO_CTRL_PUSH)
            onion_fit_records(ctx, 0);
        return ret;
    default:
        if (ctx->depth > 0 && is_ktls_ctrl(cmd))
            return 0;
        break;
    }
    if (next == NULL)
        return 0;
    BIO_clear_retry_flags(b);
    ret = BIO_ctrl(next, cmd, num, ptr);
    BIO_copy_next_retry(b);
    return ret;
}

static long onion_callback_ctrl(BIO *b, int cmd, BIO_info_cb *fp)
{
    /* BIO_set_info_callback and the like belong to the BIOs below. */
    if (BIO_next(b) == NULL)
        return 0;
    return BIO_callback_ctrl(BIO_next(b), cmd, fp);
}

static int onion_new(BIO *b)
{
    ONION_BIO *ob = OPENSSL_zalloc(sizeof(*ob));

    if (ob == NULL) {
        ERR_raise(ERR_LIB_BIO, ERR_R_MALLOC_FAILURE);
        return 0;
    }
    ob->ctx.bio = b;
    ob->ctx.error_layer = BIO_ONION_ERROR_NONE;
    ob->ctx.op_error = BIO_ONION_ERROR_NONE;
    ob->ctx.op_trunc = -1;
    BIO_set_data(b, ob);
    BIO_set_init(b, 1);
    return 1;
}

static int onion_free(BIO *b)
{
    ONION_BIO *ob = BIO_get_data(b);

    if (ob == NULL)
        return 0;
    /* Every layer is ours; the next BIO never is (BIO_free_all frees it). */
    free_layers(&ob->ctx);
    OPENSSL_free(ob->ctx.layers);
    OPENSSL_free(ob->events);
    OPENSSL_free(ob);
    BIO_set_data(b, NULL);
    BIO_set_init(b, 0);
    return 1;
}
