/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gatherbio.h"
#include "filterbio.h"

static int gather_write(BIO *b, const char *in, int inl);
static int gather_read(BIO *b, char *out, int outl);
static int gather_puts(BIO *b, const char *str);
static long gather_ctrl(BIO *b, int cmd, long num, void *ptr);
static int gather_new(BIO *b);
static int gather_free(BIO *b);

typedef struct gather_ctx_st {
    unsigned char *buf;
    size_t off, len, cap;
    unsigned long flushes;
} GATHER_CTX;

static pthread_once_t gather_once = PTHREAD_ONCE_INIT;
static BIO_METHOD *gather_meth;
static int gather_type;

static void gather_method_init(void)
{
    BIO_METHOD *m;

    gather_type = BIO_get_new_index() | BIO_TYPE_FILTER;
    m = BIO_meth_new(gather_type, "onion test write gatherer");
    if (m == NULL || !BIO_meth_set_write(m, gather_write)
        || !BIO_meth_set_read(m, gather_read)
        || !BIO_meth_set_puts(m, gather_puts)
        || !BIO_meth_set_ctrl(m, gather_ctrl)
        || !BIO_meth_set_callback_ctrl(m, filter_callback_ctrl)
        || !BIO_meth_set_create(m, gather_new)
        || !BIO_meth_set_destroy(m, gather_free)) {
        BIO_meth_free(m);
        return;
    }
    gather_meth = m;
}

BIO *gather_bio_new(void)
{
    pthread_once(&gather_once, gather_method_init);
    if (gather_meth == NULL)
        return NULL;
    return BIO_new(gather_meth);
}

unsigned long gather_bio_flushes(BIO *b)
{
    GATHER_CTX *ctx;

    pthread_once(&gather_once, gather_method_init);
    if (b == NULL || gather_meth == NULL || BIO_method_type(b) != gather_type)
        return 0;
    ctx = BIO_get_data(b);
    return ctx->flushes;
}

static int gather_new(BIO *b)
{
    GATHER_CTX *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL)
        return 0;
    BIO_set_data(b, ctx);
    BIO_set_init(b, 1);
    return 1;
}

static int gather_free(BIO *b)
{
    GATHER_CTX *ctx = BIO_get_data(b);

    if (ctx != NULL) {
        free(ctx->buf);
        free(ctx);
    }
    BIO_set_data(b, NULL);
    BIO_set_init(b, 0);
    return 1;
}

static int gather_write(BIO *b, const char *in, int inl)
{
    GATHER_CTX *ctx = BIO_get_data(b);

    BIO_clear_retry_flags(b);
    if (in == NULL || inl <= 0)
        return 0;
    if (ctx->off > 0 && ctx->len == 0)
        ctx->off = 0;
    if (ctx->off + ctx->len + (size_t)inl > ctx->cap) {
        size_t cap = ctx->cap == 0 ? 4096 : ctx->cap;
        unsigned char *nb;

        while (cap < ctx->len + (size_t)inl)
            cap *= 2;
        nb = malloc(cap);
        if (nb == NULL)
            return -1;
        if (ctx->len > 0)
            memcpy(nb, ctx->buf + ctx->off, ctx->len);
        free(ctx->buf);
        ctx->buf = nb;
        ctx->cap = cap;
        ctx->off = 0;
    }
    memcpy(ctx->buf + ctx->off + ctx->len, in, (size_t)inl);
    ctx->len += (size_t)inl;
    return inl;
}

static int gather_read(BIO *b, char *out, int outl)
{
    BIO *next = BIO_next(b);
    int ret;

    BIO_clear_retry_flags(b);
    if (out == NULL || outl <= 0 || next == NULL)
        return 0;
    ret = BIO_read(next, out, outl);
    BIO_copy_next_retry(b);
    return ret;
}

static int gather_puts(BIO *b, const char *str)
{
    size_t len = strlen(str);

    return gather_write(b, str, len > INT_MAX ? INT_MAX : (int)len);
}

/* Writes what is held; 1 when all went, <= 0 (retry copied) otherwise. */
static long gather_flush(BIO *b)
{
    GATHER_CTX *ctx = BIO_get_data(b);
    BIO *next = BIO_next(b);
    int moved = ctx->len > 0;
    long ret;

    BIO_clear_retry_flags(b);
    if (next == NULL)
        return 0;
    while (ctx->len > 0) {
        int n = ctx->len > INT_MAX ? INT_MAX : (int)ctx->len;
        int r = BIO_write(next, ctx->buf + ctx->off, n);

        if (r <= 0) {
            BIO_copy_next_retry(b);
            return r;
        }
        ctx->off += (size_t)r;
        ctx->len -= (size_t)r;
    }
    ctx->off = 0;
    if (moved)
        ctx->flushes++;
    ret = BIO_ctrl(next, BIO_CTRL_FLUSH, 0, NULL);
    BIO_copy_next_retry(b);
    return ret;
}

static long gather_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    GATHER_CTX *ctx = BIO_get_data(b);
    BIO *next = BIO_next(b);

    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return gather_flush(b);
    case BIO_CTRL_WPENDING:
        return (long)ctx->len
            + (next != NULL ? BIO_ctrl(next, cmd, num, ptr) : 0);
    default:
        return filter_ctrl_next(b, cmd, num, ptr);
    }
}
