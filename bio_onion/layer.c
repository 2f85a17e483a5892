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
#include <openssl/evp.h>

#include "onion_local.h"

/*
 * The layer stack.  Each layer's SSL reads and writes through a link BIO:
 * layer k's link calls SSL_read/SSL_write of layer k-1 directly, layer 0's
 * link reads the transport through the onion's read-ahead buffer and writes
 * into the onion's gather buffer.  No pump loops and no staging copies
 * between layers: an inner record goes straight into the outer SSL_write.
 */

static int link_write(BIO *l, const char *data, size_t len, size_t *written);
static int link_read(BIO *l, char *out, size_t outl, size_t *readbytes);
static long link_ctrl(BIO *l, int cmd, long num, void *ptr);
static int link_new(BIO *l);
static int link_free(BIO *l);

static CRYPTO_ONCE link_once = CRYPTO_ONCE_STATIC_INIT;
static BIO_METHOD *link_method = NULL;

static void link_method_init(void)
{
    BIO_METHOD *m =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "onion link");

    if (m == NULL || !BIO_meth_set_write_ex(m, link_write)
        || !BIO_meth_set_read_ex(m, link_read)
        || !BIO_meth_set_ctrl(m, link_ctrl) || !BIO_meth_set_create(m, link_new)
        || !BIO_meth_set_destroy(m, link_free)) {
        BIO_meth_free(m);
        return;
    }
    link_method = m;
}

static const BIO_METHOD *onion_link_method(void)
{
    if (!CRYPTO_THREAD_run_once(&link_once, link_method_init))
        return NULL;
    return link_method;
}

/* SSL calls take an int length. */
static int clamp_int(size_t len)
{
    return len > INT_MAX ? INT_MAX : (int)len;
}

/*
 * onion_ssl_status classifies the result |ret| of an SSL call on |s| the
 * way SSL_get_error does, but without looking at the error queue: the
 * caller's queue may hold errors of its own (we never clear it), and one
 * stale entry there would turn every retry into a fatal error.
 */
onion_status onion_ssl_status(const SSL *s, int ret)
{
    BIO *bio;

    if (ret > 0)
        return ONION_ST_OK;
    if (SSL_want_read(s)) {
        bio = SSL_get_rbio(s);
        if (BIO_should_read(bio))
            return ONION_ST_WANT_READ;
        if (BIO_should_write(bio))
            return ONION_ST_WANT_WRITE;
        if (BIO_should_io_special(bio))
            return ONION_ST_WANT_OTHER;
    }
    if (SSL_want_write(s)) {
        bio = SSL_get_wbio(s);
        if (BIO_should_write(bio))
            return ONION_ST_WANT_WRITE;
        if (BIO_should_read(bio))
            return ONION_ST_WANT_READ;
        if (BIO_should_io_special(bio))
            return ONION_ST_WANT_OTHER;
    }
    if (SSL_want_x509_lookup(s) || SSL_want_client_hello_cb(s)
        || SSL_want_async(s) || SSL_want_async_job(s)
        || SSL_want_retry_verify(s))
        return ONION_ST_WANT_OTHER;
    /*
     * A close_notify makes SSL_read return 0 with SSL_RECEIVED_SHUTDOWN set;
     * so can a fatal alert, or a later call on an SSL that failed, but those
     * leave the SSL in its error state, which counts as "in init".
     */
    if (ret == 0 && (SSL_get_shutdown(s) & SSL_RECEIVED_SHUTDOWN) != 0
        && !SSL_in_init(s))
        return ONION_ST_CLOSED;
    return ONION_ST_FATAL;
}

/* Sets the retry flags of |b| for a status that asks to retry; returns -1. */
int onion_set_retry(BIO *b, onion_status st)
{
    switch (st) {
    case ONION_ST_WANT_READ:
        BIO_set_retry_read(b);
        break;
    case ONION_ST_WANT_WRITE:
        BIO_set_retry_write(b);
        break;
    default:
        BIO_set_retry_special(b);
        BIO_set_retry_reason(b, BIO_RR_SSL_X509_LOOKUP);
        break;
    }
    return -1;
}

/* Buffers. */

void onion_buf_free(ONION_BUF *buf)
{
    OPENSSL_free(buf->data);
    memset(buf, 0, sizeof(*buf));
}

size_t onion_buf_take(ONION_BUF *buf, void *out, size_t outl)
{
    size_t n = buf->len < outl ? buf->len : outl;

    memcpy(out, buf->data + buf->off, n);
    buf->off += n;
    buf->len -= n;
    if (buf->len == 0)
        buf->off = 0;
    return n;
}

/* Puts |len| bytes at |data| in front of what |buf| holds. */
int onion_buf_prepend(ONION_BUF *buf, const void *data, size_t len)
{
    unsigned char *p;

    if (len == 0)
        return 1;
    if (buf->off >= len) {
        buf->off -= len;
    } else {
        if ((p = OPENSSL_malloc(len + buf->len)) == NULL) {
            ERR_raise(ERR_LIB_BIO, ERR_R_MALLOC_FAILURE);
            return 0;
        }
        if (buf->len > 0)
            memcpy(p + len, buf->data + buf->off, buf->len);
        OPENSSL_free(buf->data);
        buf->data = p;
        buf->off = 0;
        buf->cap = len + buf->len;
    }
    memcpy(buf->data + buf->off, data, len);
    buf->len += len;
    return 1;
}

/*
 * onion_note_error remembers where a failure started during the current
 * operation.  Failures are seen bottom-up (the call below returns first), so
 * the first one noted is the one that caused the others.
 */
void onion_note_error(ONION_CTX *ctx, int where)
{
    if (ctx->op_error == BIO_ONION_ERROR_NONE)
        ctx->op_error = where;
}

/* Gives |to| the retry state of |from|, as BIO_copy_next_retry does. */
static void copy_retry(BIO *to, BIO *from)
{
    BIO_set_flags(to, BIO_get_retry_flags(from));
    BIO_set_retry_reason(to, BIO_get_retry_reason(from));
}

/*
 * onion_flush_wbuf writes the gathered records to the transport.  Returns 1
 * when all are written, 0 when the transport asks to retry (its retry flags
 * tell which way), -1 when the transport failed.
 */
int onion_flush_wbuf(ONION_CTX *ctx)
{
    ONION_BUF *w = &ctx->wbuf;
    BIO *next = BIO_next(ctx->bio);
    int ret;

    while (w->len > 0) {
        if (next == NULL) {
            onion_note_error(ctx, BIO_ONION_ERROR_TRANSPORT);
            return -1;
        }
        if (ctx->no_transport)
            return 0;
        ret = BIO_write(next, w->data + w->off, clamp_int(w->len));
        if (ret > 0) {
            w->off += (size_t)ret;
            w->len -= (size_t)ret;
            continue;
        }
        if (BIO_should_retry(next))
            return 0;
        onion_note_error(ctx, BIO_ONION_ERROR_TRANSPORT);
        return -1;
    }
    w->off = 0;
    return 1;
}

static int wants_release(const ONION_CTX *ctx)
{
    return ctx->depth > 0
        && (SSL_get_mode(ctx->layers[0]->ssl) & SSL_MODE_RELEASE_BUFFERS) != 0;
}

/*
 * onion_release_buffers follows OpenSSL's own buffer policy: with
 * SSL_MODE_RELEASE_BUFFERS on layer 0 the transport buffers are given back
 * whenever they are empty after an operation (bytes still unread, such as
 * session tickets that came with the last handshake flight, are kept in a
 * buffer of their own size), so an idle connection holds none; without it
 * they stay for the life of the connection, like the SSLs' own buffers, and
 * nothing is allocated per record or per message.
 */
void onion_release_buffers(ONION_CTX *ctx)
{
    ONION_BUF *in;
    unsigned char *p;

    if (!wants_release(ctx))
        return;
    if (ctx->wbuf.len == 0)
        onion_buf_free(&ctx->wbuf);
    if (ctx->depth == 0)
        return;
    in = &ctx->layers[0]->in;
    if (in->len == 0) {
        onion_buf_free(in);
    } else if (in->cap > 2 * in->len && (p = OPENSSL_malloc(in->len)) != NULL) {
        memcpy(p, in->data + in->off, in->len);
        OPENSSL_free(in->data);
        in->data = p;
        in->off = 0;
        in->cap = in->len;
    }
}

/*
 * transport_write is layer 0's write: the record joins the gather buffer,
 * which goes to the transport when it is full, when an SSL flushes a
 * handshake flight, and at the end of every operation on the onion.
 */
static int transport_write(ONION_CTX *ctx, BIO *l, const char *data, size_t len,
                           size_t *written)
{
    ONION_BUF *w = &ctx->wbuf;
    BIO *next = BIO_next(ctx->bio);
    size_t room;
    int ret;

    if (ctx->below_room != 0 && next != NULL && w->len == 0
        && !ctx->no_transport) {
        /* One record, one write: the TLS below makes it one record too. */
        ret = BIO_write(next, data, clamp_int(len));
        if (ret > 0) {
            *written = (size_t)ret;
            return 1;
        }
        if (BIO_should_retry(next)) {
            copy_retry(l, next);
            return -1;
        }
        onion_note_error(ctx, BIO_ONION_ERROR_TRANSPORT);
        return -1;
    }
    if (w->cap == 0) {
        if ((w->data = OPENSSL_malloc(ONION_IOBUF_SIZE)) == NULL) {
            ERR_raise(ERR_LIB_BIO, ERR_R_MALLOC_FAILURE);
            return -1;
        }
        w->cap = ONION_IOBUF_SIZE;
    }
    if (w->off + w->len + len > w->cap && w->off > 0 && w->len > 0) {
        memmove(w->data, w->data + w->off, w->len);
        w->off = 0;
    }
    if (w->off + w->len + len > w->cap) {
        ret = onion_flush_wbuf(ctx);
        if (ret <= 0) {
            if (ret == 0 && next != NULL)
                copy_retry(l, next);
            else if (ret == 0)
                BIO_set_retry_write(l);
            return -1;
        }
    }
    room = w->cap - w->off - w->len;
    if (len > room)
        len = room;
    memcpy(w->data + w->off + w->len, data, len);
    w->len += len;
    *written = len;
    return 1;
}

/*
 * transport_read is layer 0's read: it serves the read-ahead buffer, and
 * refills it with one large read instead of OpenSSL's two small reads per
 * record.  What is left there when layer 0 is popped stays for the
 * application, so read-ahead never loses a byte past a close_notify.
 */
static int transport_read(ONION_CTX *ctx, ONION_LAYER *layer, BIO *l, char *out,
                          size_t outl, size_t *readbytes)
{
    ONION_BUF *in = &layer->in;
    BIO *next = BIO_next(ctx->bio);
    size_t want;
    int ret;

    if (next == NULL) {
        onion_note_error(ctx, BIO_ONION_ERROR_TRANSPORT);
        return -1;
    }
    if (in->cap < ONION_IOBUF_SIZE) {
        OPENSSL_free(in->data);
        in->len = in->off = in->cap = 0;
        if ((in->data = OPENSSL_malloc(ONION_IOBUF_SIZE)) == NULL) {
            ERR_raise(ERR_LIB_BIO, ERR_R_MALLOC_FAILURE);
            return -1;
        }
        in->cap = ONION_IOBUF_SIZE;
    }
    want = in->cap;
    /*
     * BIO_f_buffer fills a whole request before it returns, so over a
     * blocking transport a read-ahead request would wait for bytes the peer
     * sends only after our answer: ask it for what the SSL needs, no more.
     */
    if (BIO_method_type(next) == BIO_TYPE_BUFFER && outl < want)
        want = outl;
    if (ctx->no_transport) {
        /* A BIO_pending probe: take only what the next BIO already holds. */
        size_t avail = BIO_ctrl_pending(next);

        if (avail == 0) {
            BIO_set_retry_read(l);
            return -1;
        }
        if (avail < want)
            want = avail;
    }
    ret = BIO_read(next, in->data, clamp_int(want));
    if (ret > 0) {
        in->off = 0;
        in->len = (size_t)ret;
        *readbytes = onion_buf_take(in, out, outl);
        return 1;
    }
    if (BIO_should_retry(next)) {
        copy_retry(l, next);
        return -1;
    }
    if (ret == 0)
        layer->src_eof = 1;
    onion_note_error(ctx, BIO_ONION_ERROR_TRANSPORT);
    return ret == 0 ? 0 : -1;
}

/* The link BIO. */

static int link_new(BIO *l)
{
    BIO_set_init(l, 1);
    return 1;
}

static int link_free(BIO *l)
{
    /* The layer owns nothing through its link, and the link nothing below. */
    BIO_set_data(l, NULL);
    return 1;
}

/*
 * The result of a link call whose SSL call on the outer layer did not
 * succeed: the outer layer's retry becomes the link's, as bio_ssl.c does;
 * a failure is the outer layer's.
 */
static int link_result(BIO *l, ONION_CTX *ctx, ONION_LAYER *outer,
                       onion_status st)
{
    if (st != ONION_ST_FATAL && st != ONION_ST_CLOSED)
        return onion_set_retry(l, st);
    outer->failed = 1;
    onion_note_error(ctx, outer->index);
    return -1;
}

static int link_read(BIO *l, char *out, size_t outl, size_t *readbytes)
{
    ONION_LAYER *layer = BIO_get_data(l);
    ONION_CTX *ctx;
    ONION_LAYER *outer;
    onion_status st;
    int ret;

    *readbytes = 0;
    BIO_clear_retry_flags(l);
    if (layer == NULL || out == NULL || outl == 0)
        return 0;
    ctx = layer->ctx;
    layer->in_fresh = 0;

    if (layer->in.len > 0) {
        *readbytes = onion_buf_take(&layer->in, out, outl);
        if (layer->in.len == 0 && (layer->index > 0 || wants_release(ctx)))
            onion_buf_free(&layer->in);
        return 1;
    }
    if (layer->index == 0)
        return transport_read(ctx, layer, l, out, outl, readbytes);

    outer = ctx->layers[layer->index - 1];
    ret = SSL_read(onion_layer_ssl(outer), out, clamp_int(outl));
    st = onion_ssl_status(outer->ssl, ret);
    if (st == ONION_ST_OK) {
        *readbytes = (size_t)ret;
        return 1;
    }
    if (st == ONION_ST_CLOSED) {
        /*
         * The outer layer closed cleanly under a layer that had not: that
         * layer is truncated.  Its SSL sees EOF and fails.
         */
        outer->peer_closed = 1;
        layer->src_eof = 1;
        if (ctx->op_trunc < 0)
            ctx->op_trunc = layer->index;
        return 0;
    }
    return link_result(l, ctx, outer, st);
}

static int link_write(BIO *l, const char *data, size_t len, size_t *written)
{
    ONION_LAYER *layer = BIO_get_data(l);
    ONION_CTX *ctx;
    ONION_LAYER *outer;
    onion_status st;
    int ret;

    *written = 0;
    BIO_clear_retry_flags(l);
    if (layer == NULL || data == NULL)
        return 0;
    if (len == 0)
        return 1;
    ctx = layer->ctx;
    if (layer->index == 0)
        return transport_write(ctx, l, data, len, written);

    outer = ctx->layers[layer->index - 1];
    ret = SSL_write(onion_layer_ssl(outer), data, clamp_int(len));
    st = onion_ssl_status(outer->ssl, ret);
    if (st == ONION_ST_OK) {
        *written = (size_t)ret;
        return 1;
    }
    return link_result(l, ctx, outer, st);
}

static long link_ctrl(BIO *l, int cmd, long num, void *ptr)
{
    ONION_LAYER *layer = BIO_get_data(l);
    ONION_CTX *ctx = layer != NULL ? layer->ctx : NULL;
    BIO *next;
    int ret;

    (void)num;
    (void)ptr;
    if (ctx == NULL)
        return 0;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        /*
         * An SSL finished a flight: send what is gathered.  What the
         * transport cannot take yet stays in the onion, which sends it
         * before anything else and reports it as BIO_wpending; the SSL goes
         * on, so that it can read what the peer sends meanwhile (two peers
         * that both wait to write would otherwise wait forever).
         */
        next = BIO_next(ctx->bio);
        ret = onion_flush_wbuf(ctx);
        if (ret < 0)
            return -1;
        if (ret == 0 || ctx->no_transport || next == NULL)
            return 1;
        ret = (int)BIO_ctrl(next, BIO_CTRL_FLUSH, 0, NULL);
        return ret > 0 || BIO_should_retry(next) ? 1 : ret;
    case BIO_CTRL_EOF:
        return layer->in.len == 0 && layer->src_eof;
    case BIO_CTRL_PENDING:
        return (long)layer->in.len;
    case BIO_CTRL_WPENDING:
        return (long)ctx->wbuf.len;
    case BIO_CTRL_GET_CLOSE:
        return BIO_NOCLOSE;
    case BIO_CTRL_SET_CLOSE:
        return 1;
    default:
        /*
         * Everything else is refused, kernel TLS above all: no layer's keys
         * may reach the socket, and a link has no descriptor of its own.
         */
        return 0;
    }
}

/* Layers. */

ONION_LAYER *onion_layer_new(ONION_CTX *ctx, SSL *ssl)
{
    const BIO_METHOD *m = onion_link_method();
    ONION_LAYER *layer;

    if (m == NULL)
        return NULL;
    if ((layer = OPENSSL_zalloc(sizeof(*layer))) == NULL) {
        ERR_raise(ERR_LIB_BIO, ERR_R_MALLOC_FAILURE);
        return NULL;
    }
    if ((layer->link = BIO_new(m)) == NULL) {
        OPENSSL_free(layer);
        return NULL;
    }
    BIO_set_data(layer->link, layer);
    layer->ssl = ssl;
    layer->ctx = ctx;
    return layer;
}

/*
 * Frees the layer and its SSL, which frees the link.  Before the SSL has
 * been given the link (a push that failed), only the link is freed and the
 * SSL stays the caller's.
 */
void onion_layer_free(ONION_LAYER *layer)
{
    if (layer == NULL)
        return;
    if (layer->ssl != NULL && SSL_get_rbio(layer->ssl) == layer->link)
        SSL_free(layer->ssl);
    else
        BIO_free(layer->link);
    onion_buf_free(&layer->in);
    OPENSSL_free(layer);
}

/* Record fitting. */

/* The most plaintext one record of |s| may carry. */
static size_t max_fragment(SSL *s)
{
    SSL_SESSION *sess = SSL_get_session(s);
    uint8_t mfl = sess != NULL ? SSL_SESSION_get_max_fragment_length(sess) : 0;

    if (mfl >= TLSEXT_max_fragment_length_512
        && mfl <= TLSEXT_max_fragment_length_4096)
        return (size_t)512 << (mfl - 1);
    return ONION_MAX_FRAGMENT;
}

/*
 * The most bytes one record of |s| adds to its plaintext.  Before the
 * cipher is known, the bound for every cipher |s| may negotiate.
 */
static size_t record_overhead(SSL *s)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(s);
    const EVP_CIPHER *cipher;
    const EVP_MD *md;
    const char *name;
    size_t tag, ovh;
    int bs;

    if (c == NULL) {
        if (SSL_get_min_proto_version(s) == TLS1_3_VERSION)
            return ONION_RECORD_HEADER + 1 + 16;
        /* TLS 1.2 CBC with a SHA-384 MAC: IV, MAC and a full pad block. */
        return ONION_RECORD_HEADER + 16 + 48 + 16;
    }
    name = SSL_CIPHER_get_name(c);
    tag = (strstr(name, "CCM8") != NULL || strstr(name, "CCM_8") != NULL) ? 8
                                                                          : 16;
    if (SSL_version(s) >= TLS1_3_VERSION)
        return ONION_RECORD_HEADER + 1 + tag;
    if (SSL_CIPHER_is_aead(c)) {
        if (SSL_CIPHER_get_cipher_nid(c) == NID_chacha20_poly1305)
            return ONION_RECORD_HEADER + 16;
        return ONION_RECORD_HEADER + 8 + tag; /* explicit nonce + tag */
    }
    ovh = ONION_RECORD_HEADER;
    md = EVP_get_digestbynid(SSL_CIPHER_get_digest_nid(c));
    if (md != NULL)
        ovh += (size_t)EVP_MD_get_size(md);
    cipher = EVP_get_cipherbynid(SSL_CIPHER_get_cipher_nid(c));
    bs = cipher != NULL ? EVP_CIPHER_get_block_size(cipher) : 1;
    if (bs > 1)
        ovh += 2 * (size_t)bs; /* explicit IV and at most a block of pad */
    return ovh;
}

/*
 * What one record of the next BIO can carry: another onion tells (through
 * any filters that forward ctrls), a BIO_f_ssl carries a full fragment,
 * anything else (a transport) puts no limit, 0.
 */
static size_t room_below(ONION_CTX *ctx)
{
    BIO *next = BIO_next(ctx->bio);
    SSL *s = NULL;
    long r;

    if (next == NULL)
        return 0;
    if (BIO_method_type(next) == BIO_TYPE_SSL) {
        if (BIO_get_ssl(next, &s) > 0 && s != NULL)
            return max_fragment(s);
        return 0;
    }
    r = BIO_ctrl(next, BIO_C_ONION_GET_RECORD_ROOM, 0, NULL);
    return r > 0 ? (size_t)r : 0;
}

static size_t layer_room(ONION_LAYER *layer)
{
    return layer->frag != 0 ? layer->frag : max_fragment(layer->ssl);
}

size_t onion_record_room(ONION_CTX *ctx)
{
    if (ctx->depth == 0)
        return room_below(ctx);
    return layer_room(ctx->layers[ctx->depth - 1]);
}

/*
 * onion_fit_records sizes the records of layers |from| and up so that each
 * fits whole into one record of the layer outside it: an inner TLS 1.3
 * record of 16384 bytes is 16406 bytes to the outer layer, which would cut
 * it in two records and double the record and write count.
 */
void onion_fit_records(ONION_CTX *ctx, int from)
{
    ONION_LAYER *layer;
    size_t room, ovh, frag;
    int i;

    if (from < 0)
        from = 0;
    ctx->below_room = room_below(ctx);
    for (i = from; i < ctx->depth; i++) {
        layer = ctx->layers[i];
        room = i == 0 ? ctx->below_room : layer_room(ctx->layers[i - 1]);
        frag = 0;
        if ((ctx->flags & BIO_ONION_NO_RECORD_FIT) == 0 && room != 0) {
            ovh = record_overhead(layer->ssl);
            frag = room > ovh + ONION_MIN_FRAGMENT ? room - ovh
                                                   : ONION_MIN_FRAGMENT;
            if (frag > ONION_MAX_FRAGMENT)
                frag = ONION_MAX_FRAGMENT;
        }
        if (frag == layer->frag)
            continue;
        /*
         * OpenSSL 3.0 cuts records at split_send_fragment and sizes its write
         * buffer by max_send_fragment when it allocates it; raising
         * max_send_fragment later overflows that buffer.  So only the split
         * moves (it can, either way, at any time), within the maximum.
         */
        SSL_set_split_send_fragment(layer->ssl,
                                    frag != 0 ? (long)frag
                                              : (long)max_fragment(layer->ssl));
        layer->frag = frag;
    }
}
