/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

#include <stdlib.h>
#include <string.h>

#include "tap.h"

static int tap_write(BIO *b, const char *in, int inl);
static int tap_read(BIO *b, char *out, int outl);
static long tap_ctrl(BIO *b, int cmd, long num, void *ptr);
static long tap_callback_ctrl(BIO *b, int cmd, BIO_info_cb *fp);
static int tap_create(BIO *b);
static int tap_destroy(BIO *b);

typedef struct tap_dir_st {
    unsigned char *data;
    unsigned char *armed;
    size_t len;
    size_t cap;
    int on;
} TAP_DIR;

typedef struct tap_ctx_st {
    TAP_DIR dir[2];
    int reset;
} TAP_CTX;

static CRYPTO_ONCE tap_once = CRYPTO_ONCE_STATIC_INIT;
static BIO_METHOD *tap_meth;
static int tap_type;

static void tap_method_init(void)
{
    BIO_METHOD *m;

    tap_type = BIO_get_new_index() | BIO_TYPE_FILTER;
    m = BIO_meth_new(tap_type, "onion test tap filter");
    if (m == NULL || !BIO_meth_set_write(m, tap_write)
        || !BIO_meth_set_read(m, tap_read) || !BIO_meth_set_ctrl(m, tap_ctrl)
        || !BIO_meth_set_callback_ctrl(m, tap_callback_ctrl)
        || !BIO_meth_set_create(m, tap_create)
        || !BIO_meth_set_destroy(m, tap_destroy)) {
        BIO_meth_free(m);
        return;
    }
    tap_meth = m;
}

BIO *tap_new(void)
{
    if (!CRYPTO_THREAD_run_once(&tap_once, tap_method_init) || tap_meth == NULL)
        return NULL;
    return BIO_new(tap_meth);
}

static TAP_DIR *tap_dir(BIO *b, int dir)
{
    TAP_CTX *ctx;

    if (b == NULL || BIO_method_type(b) != tap_type || dir < 0 || dir > 1)
        return NULL;
    ctx = BIO_get_data(b);
    return ctx != NULL ? &ctx->dir[dir] : NULL;
}

void tap_set_armed(BIO *b, int dir, int on)
{
    TAP_DIR *d = tap_dir(b, dir);

    if (d != NULL)
        d->on = on;
}

void tap_arm_back(BIO *b, int dir, size_t n)
{
    TAP_DIR *d = tap_dir(b, dir);

    if (d == NULL)
        return;
    if (n > d->len)
        n = d->len;
    memset(d->armed + d->len - n, 1, n);
}

void tap_reset(BIO *b)
{
    if (tap_dir(b, TAP_READ) != NULL)
        ((TAP_CTX *)BIO_get_data(b))->reset = 1;
}

size_t tap_len(BIO *b, int dir)
{
    TAP_DIR *d = tap_dir(b, dir);

    return d != NULL ? d->len : 0;
}

const unsigned char *tap_data(BIO *b, int dir, const unsigned char **armed)
{
    TAP_DIR *d = tap_dir(b, dir);

    if (armed != NULL)
        *armed = d != NULL ? d->armed : NULL;
    return d != NULL ? d->data : NULL;
}

/* Keeps |n| bytes at |p|; a copy that fails to grow is a test failure
 * waiting to happen, so the I/O fails with it. */
static int keep(TAP_DIR *d, const void *p, size_t n)
{
    unsigned char *nd, *na;
    size_t cap;

    if (d->len + n > d->cap) {
        cap = d->cap == 0 ? 4096 : d->cap;
        while (cap < d->len + n)
            cap *= 2;
        if ((nd = realloc(d->data, cap)) == NULL)
            return 0;
        d->data = nd;
        if ((na = realloc(d->armed, cap)) == NULL)
            return 0;
        d->armed = na;
        d->cap = cap;
    }
    memcpy(d->data + d->len, p, n);
    memset(d->armed + d->len, d->on ? 1 : 0, n);
    d->len += n;
    return 1;
}

static int tap_write(BIO *b, const char *in, int inl)
{
    TAP_CTX *ctx = BIO_get_data(b);
    BIO *next = BIO_next(b);
    int ret;

    BIO_clear_retry_flags(b);
    if (next == NULL || in == NULL || inl <= 0)
        return 0;
    if (ctx->reset)
        return -1;
    ret = BIO_write(next, in, inl);
    BIO_copy_next_retry(b);
    if (ret > 0 && !keep(&ctx->dir[TAP_WRITE], in, (size_t)ret))
        return -1;
    return ret;
}

static int tap_read(BIO *b, char *out, int outl)
{
    TAP_CTX *ctx = BIO_get_data(b);
    BIO *next = BIO_next(b);
    int ret;

    BIO_clear_retry_flags(b);
    if (next == NULL || out == NULL || outl <= 0)
        return 0;
    if (ctx->reset)
        return 0;
    ret = BIO_read(next, out, outl);
    BIO_copy_next_retry(b);
    if (ret > 0 && !keep(&ctx->dir[TAP_READ], out, (size_t)ret))
        return -1;
    return ret;
}

static long tap_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    BIO *next = BIO_next(b);
    long ret;

    if (next == NULL)
        return 0;
    if (cmd == BIO_CTRL_DUP)
        return 0;
    BIO_clear_retry_flags(b);
    ret = BIO_ctrl(next, cmd, num, ptr);
    BIO_copy_next_retry(b);
    return ret;
}

static long tap_callback_ctrl(BIO *b, int cmd, BIO_info_cb *fp)
{
    BIO *next = BIO_next(b);

    return next != NULL ? BIO_callback_ctrl(next, cmd, fp) : 0;
}

static int tap_create(BIO *b)
{
    TAP_CTX *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL)
        return 0;
    BIO_set_data(b, ctx);
    BIO_set_init(b, 1);
    return 1;
}

static int tap_destroy(BIO *b)
{
    TAP_CTX *ctx = BIO_get_data(b);
    int i;

    if (ctx != NULL) {
        for (i = 0; i < 2; i++) {
            free(ctx->dir[i].data);
            free(ctx->dir[i].armed);
        }
        free(ctx);
    }
    BIO_set_data(b, NULL);
    BIO_set_init(b, 0);
    return 1;
}
