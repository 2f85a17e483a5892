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

#include "faultbio.h"
#include "testutil.h"
#include "filterbio.h"

static int fault_write(BIO *b, const char *in, int inl);
static int fault_read(BIO *b, char *out, int outl);
static int fault_puts(BIO *b, const char *str);
static int fault_new(BIO *b);
static int fault_free(BIO *b);

typedef struct fault_ctx_st {
    FAULT_CONFIG cfg;
    FAULT_STATS st;
    uint64_t rng;
    int enabled;
} FAULT_CTX;

static pthread_once_t fault_once = PTHREAD_ONCE_INIT;
static BIO_METHOD *fault_meth;
static int fault_type;

static void fault_method_init(void)
{
    BIO_METHOD *m;

    fault_type = BIO_get_new_index() | BIO_TYPE_FILTER;
    m = BIO_meth_new(fault_type, "onion test fault filter");

    if (m == NULL || !BIO_meth_set_write(m, fault_write)
        || !BIO_meth_set_read(m, fault_read)
        || !BIO_meth_set_puts(m, fault_puts)
        || !BIO_meth_set_ctrl(m, filter_ctrl_next)
        || !BIO_meth_set_callback_ctrl(m, filter_callback_ctrl)
        || !BIO_meth_set_create(m, fault_new)
        || !BIO_meth_set_destroy(m, fault_free)) {
        BIO_meth_free(m);
        return;
    }
    fault_meth = m;
}

/*
 * The method is never freed: it lives as long as the process, like
 * OpenSSL's own static methods.
 */
const BIO_METHOD *fault_bio_method(void)
{
    pthread_once(&fault_once, fault_method_init);
    return fault_meth;
}

static int is_fault(BIO *b)
{
    return fault_bio_method() != NULL && BIO_method_type(b) == fault_type;
}

void fault_config_default(FAULT_CONFIG *c, uint64_t seed)
{
    memset(c, 0, sizeof(*c));
    c->seed = seed;
    c->read_cutoff = FAULT_OFF;
    c->write_cutoff = FAULT_OFF;
    c->read_corrupt = FAULT_OFF;
    c->write_corrupt = FAULT_OFF;
}

BIO *fault_bio_new(const FAULT_CONFIG *c)
{
    const BIO_METHOD *m = fault_bio_method();
    FAULT_CTX *ctx;
    BIO *b;

    if (m == NULL || (b = BIO_new(m)) == NULL)
        return NULL;
    ctx = BIO_get_data(b);
    ctx->cfg = *c;
    ctx->rng = c->seed;
    ctx->enabled = 1;
    return b;
}

int fault_bio_stats(BIO *b, FAULT_STATS *st)
{
    FAULT_CTX *ctx;

    if (b == NULL || !is_fault(b))
        return 0;
    ctx = BIO_get_data(b);
    *st = ctx->st;
    return 1;
}

int fault_bio_set_enabled(BIO *b, int on)
{
    FAULT_CTX *ctx;

    if (b == NULL || !is_fault(b))
        return 0;
    ctx = BIO_get_data(b);
    ctx->enabled = on;
    return 1;
}

int fault_bio_set_offsets(BIO *b, long read_cutoff, long write_cutoff,
                          long read_corrupt, long write_corrupt)
{
    FAULT_CTX *ctx;

    if (b == NULL || !is_fault(b))
        return 0;
    ctx = BIO_get_data(b);
    ctx->cfg.read_cutoff = read_cutoff;
    ctx->cfg.write_cutoff = write_cutoff;
    ctx->cfg.read_corrupt = read_corrupt;
    ctx->cfg.write_corrupt = write_corrupt;
    ctx->st.corrupted_read = ctx->st.corrupted_write = 0;
    return 1;
}

uint64_t fault_bio_seed(BIO *b)
{
    FAULT_CTX *ctx;

    if (b == NULL || !is_fault(b))
        return 0;
    ctx = BIO_get_data(b);
    return ctx->cfg.seed;
}

static int fault_new(BIO *b)
{
    FAULT_CTX *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL)
        return 0;
    fault_config_default(&ctx->cfg, 0);
    BIO_set_data(b, ctx);
    BIO_set_init(b, 1);
    return 1;
}

static int fault_free(BIO *b)
{
    free(BIO_get_data(b));
    BIO_set_data(b, NULL);
    BIO_set_init(b, 0);
    return 1;
}

static int chance(FAULT_CTX *ctx, unsigned int permille)
{
    return permille > 0 && test_rand_below(&ctx->rng, 1000) < permille;
}

static int short_len(FAULT_CTX *ctx, int mode, int len)
{
    if (len <= 1)
        return len;
    switch (mode) {
    case FAULT_SHORT_ONE:
        return 1;
    case FAULT_SHORT_RANDOM:
        /* Half of the calls move at most 16 bytes: record headers split. */
        if (test_rand_below(&ctx->rng, 2) == 0 && len > 16)
            len = 16;
        return 1 + (int)test_rand_below(&ctx->rng, (uint64_t)len);
    default:
        return len;
    }
}

static void corrupt(FAULT_CTX *ctx, unsigned char *buf, int n,
                    unsigned long long start, long at, int *done)
{
    unsigned char mask =
        ctx->cfg.corrupt_mask != 0 ? ctx->cfg.corrupt_mask : 0xFF;

    if (at < 0 || *done || (unsigned long long)at < start
        || (unsigned long long)at >= start + (unsigned long long)n)
        return;
    buf[(unsigned long long)at - start] ^= mask;
    *done = 1;
}

static int fault_read(BIO *b, char *out, int outl)
{
    FAULT_CTX *ctx = BIO_get_data(b);
    BIO *next = BIO_next(b);
    int n, ret;

    BIO_clear_retry_flags(b);
    if (out == NULL || outl <= 0 || next == NULL)
        return 0;
    ctx->st.read_calls++;
    if (ctx->enabled && ctx->cfg.read_cutoff >= 0
        && ctx->st.bytes_read >= (unsigned long long)ctx->cfg.read_cutoff)
        return 0;
    if (ctx->enabled && chance(ctx, ctx->cfg.read_retry_permille)) {
        ctx->st.read_retries++;
        BIO_set_retry_read(b);
        return -1;
    }
    n = ctx->enabled ? short_len(ctx, ctx->cfg.short_read, outl) : outl;
    if (ctx->enabled && ctx->cfg.read_cutoff >= 0
        && (unsigned long long)n
            > (unsigned long long)ctx->cfg.read_cutoff - ctx->st.bytes_read)
        n = (int)((unsigned long long)ctx->cfg.read_cutoff
                  - ctx->st.bytes_read);
    ret = BIO_read(next, out, n);
    BIO_copy_next_retry(b);
    if (ret > 0) {
        if (ctx->enabled)
            corrupt(ctx, (unsigned char *)out, ret, ctx->st.bytes_read,
                    ctx->cfg.read_corrupt, &ctx->st.corrupted_read);
        ctx->st.bytes_read += (unsigned long long)ret;
    }
    return ret;
}

static int fault_write(BIO *b, const char *in, int inl)
{
    FAULT_CTX *ctx = BIO_get_data(b);
    BIO *next = BIO_next(b);
    unsigned char *copy = NULL;
    const char *src = in;
    int n, ret;

    BIO_clear_retry_flags(b);
    if (in == NULL || inl <= 0 || next == NULL)
        return 0;
    ctx->st.write_calls++;
    if (ctx->enabled && ctx->cfg.write_cutoff >= 0
        && ctx->st.bytes_written >= (unsigned long long)ctx->cfg.write_cutoff)
        return -1;
    if (ctx->enabled && chance(ctx, ctx->cfg.write_retry_permille)) {
        ctx->st.write_retries++;
        BIO_set_retry_write(b);
        return -1;
    }
    n = ctx->enabled ? short_len(ctx, ctx->cfg.short_write, inl) : inl;
    if (ctx->enabled && ctx->cfg.write_cutoff >= 0
        && (unsigned long long)n
            > (unsigned long long)ctx->cfg.write_cutoff - ctx->st.bytes_written)
        n = (int)((unsigned long long)ctx->cfg.write_cutoff
                  - ctx->st.bytes_written);
    if (ctx->enabled && ctx->cfg.write_corrupt >= 0 && !ctx->st.corrupted_write
        && (unsigned long long)ctx->cfg.write_corrupt >= ctx->st.bytes_written
        && (unsigned long long)ctx->cfg.write_corrupt
            < ctx->st.bytes_written + (unsigned long long)n) {
        /* The caller's buffer is const: corrupt a copy. */
        copy = malloc((size_t)n);
        if (copy == NULL)
            return -1;
        memcpy(copy, in, (size_t)n);
        src = (const char *)copy;
    }
    if (copy != NULL) {
        int done = 0;

        corrupt(ctx, copy, n, ctx->st.bytes_written, ctx->cfg.write_corrupt,
                &done);
        ret = BIO_write(next, src, n);
        /* Only bytes that reached the next BIO count as corrupted. */
        if (ret > (int)((unsigned long long)ctx->cfg.write_corrupt
                        - ctx->st.bytes_written))
            ctx->st.corrupted_write = 1;
    } else {
        ret = BIO_write(next, src, n);
    }
    BIO_copy_next_retry(b);
    if (ret > 0)
        ctx->st.bytes_written += (unsigned long long)ret;
    free(copy);
    return ret;
}

static int fault_puts(BIO *b, const char *str)
{
    size_t len = strlen(str);

    return fault_write(b, str, len > INT_MAX ? INT_MAX : (int)len);
}
