/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recbio.h"
#include "filterbio.h"

#define CTRL_SLOTS 256

static int rec_write(BIO *b, const char *in, int inl);
static int rec_read(BIO *b, char *out, int outl);
static int rec_puts(BIO *b, const char *str);
static long rec_ctrl(BIO *b, int cmd, long num, void *ptr);
static int rec_new(BIO *b);
static int rec_free(BIO *b);

/* PARSER follows the record framing of one direction. */
typedef struct parser_st {
    unsigned char hdr[5];
    size_t have;      /* header bytes collected */
    size_t body_left; /* body bytes still to pass */
    unsigned long long bytes;
    RECBIO_RECORD *rec;
    size_t n, cap;
} PARSER;

typedef struct rec_ctx_st {
    PARSER dir[2];
    unsigned long ctrls[CTRL_SLOTS];
    unsigned long ctrls_other;
} REC_CTX;

static pthread_once_t rec_once = PTHREAD_ONCE_INIT;
static BIO_METHOD *rec_meth;
static int rec_type;

static void rec_method_init(void)
{
    BIO_METHOD *m;

    rec_type = BIO_get_new_index() | BIO_TYPE_FILTER;
    m = BIO_meth_new(rec_type, "onion test record recorder");
    if (m == NULL || !BIO_meth_set_write(m, rec_write)
        || !BIO_meth_set_read(m, rec_read) || !BIO_meth_set_puts(m, rec_puts)
        || !BIO_meth_set_ctrl(m, rec_ctrl)
        || !BIO_meth_set_callback_ctrl(m, filter_callback_ctrl)
        || !BIO_meth_set_create(m, rec_new)
        || !BIO_meth_set_destroy(m, rec_free)) {
        BIO_meth_free(m);
        return;
    }
    rec_meth = m;
}

static REC_CTX *rec_ctx(BIO *b)
{
    pthread_once(&rec_once, rec_method_init);
    if (b == NULL || rec_meth == NULL || BIO_method_type(b) != rec_type)
        return NULL;
    return BIO_get_data(b);
}

BIO *recbio_new(void)
{
    pthread_once(&rec_once, rec_method_init);
    if (rec_meth == NULL)
        return NULL;
    return BIO_new(rec_meth);
}

static int rec_new(BIO *b)
{
    REC_CTX *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL)
        return 0;
    BIO_set_data(b, ctx);
    BIO_set_init(b, 1);
    return 1;
}

static int rec_free(BIO *b)
{
    REC_CTX *ctx = BIO_get_data(b);

    if (ctx != NULL) {
        free(ctx->dir[0].rec);
        free(ctx->dir[1].rec);
        free(ctx);
    }
    BIO_set_data(b, NULL);
    BIO_set_init(b, 0);
    return 1;
}

static void parse(PARSER *p, const unsigned char *buf, size_t n)
{
    p->bytes += n;
    while (n > 0) {
        if (p->body_left > 0) {
            size_t k = n < p->body_left ? n : p->body_left;

            p->body_left -= k;
            buf += k;
            n -= k;
            continue;
        }
        p->hdr[p->have++] = *buf++;
        n--;
        if (p->have < sizeof(p->hdr))
            continue;
        p->have = 0;
        p->body_left = ((size_t)p->hdr[3] << 8) | p->hdr[4];
        if (p->n == p->cap) {
            size_t cap = p->cap == 0 ? 64 : 2 * p->cap;
            RECBIO_RECORD *r = realloc(p->rec, cap * sizeof(*r));

            if (r == NULL)
                continue; /* a lost entry shows as a log mismatch */
            p->rec = r;
            p->cap = cap;
        }
        p->rec[p->n].type = p->hdr[0];
        p->rec[p->n].len = (unsigned int)p->body_left;
        p->n++;
    }
}

static int rec_read(BIO *b, char *out, int outl)
{
    REC_CTX *ctx = BIO_get_data(b);
    BIO *next = BIO_next(b);
    int ret;

    BIO_clear_retry_flags(b);
    if (out == NULL || outl <= 0 || next == NULL)
        return 0;
    ret = BIO_read(next, out, outl);
    BIO_copy_next_retry(b);
    if (ret > 0)
        parse(&ctx->dir[RECBIO_READ], (const unsigned char *)out, (size_t)ret);
    return ret;
}

static int rec_write(BIO *b, const char *in, int inl)
{
    REC_CTX *ctx = BIO_get_data(b);
    BIO *next = BIO_next(b);
    int ret;

    BIO_clear_retry_flags(b);
    if (in == NULL || inl <= 0 || next == NULL)
        return 0;
    ret = BIO_write(next, in, inl);
    BIO_copy_next_retry(b);
    if (ret > 0)
        parse(&ctx->dir[RECBIO_WRITE], (const unsigned char *)in, (size_t)ret);
    return ret;
}

static int rec_puts(BIO *b, const char *str)
{
    size_t len = strlen(str);

    return rec_write(b, str, len > INT_MAX ? INT_MAX : (int)len);
}

static long rec_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    REC_CTX *ctx = BIO_get_data(b);

    if (cmd >= 0 && cmd < CTRL_SLOTS)
        ctx->ctrls[cmd]++;
    else
        ctx->ctrls_other++;
    return filter_ctrl_next(b, cmd, num, ptr);
}

int recbio_reset(BIO *b)
{
    REC_CTX *ctx = rec_ctx(b);
    int i;

    if (ctx == NULL)
        return 0;
    for (i = 0; i < 2; i++)
        if (ctx->dir[i].have != 0 || ctx->dir[i].body_left != 0)
            return 0;
    for (i = 0; i < 2; i++) {
        ctx->dir[i].n = 0;
        ctx->dir[i].bytes = 0;
    }
    memset(ctx->ctrls, 0, sizeof(ctx->ctrls));
    ctx->ctrls_other = 0;
    return 1;
}

size_t recbio_count(BIO *b, int dir)
{
    REC_CTX *ctx = rec_ctx(b);

    return ctx == NULL || dir < 0 || dir > 1 ? 0 : ctx->dir[dir].n;
}

unsigned long long recbio_bytes(BIO *b, int dir)
{
    REC_CTX *ctx = rec_ctx(b);

    return ctx == NULL || dir < 0 || dir > 1 ? 0 : ctx->dir[dir].bytes;
}

int recbio_get(BIO *b, int dir, size_t i, RECBIO_RECORD *r)
{
    REC_CTX *ctx = rec_ctx(b);

    if (ctx == NULL || dir < 0 || dir > 1 || i >= ctx->dir[dir].n)
        return 0;
    *r = ctx->dir[dir].rec[i];
    return 1;
}

int recbio_copy_log(BIO *b, int dir, RECBIO_LOG *log)
{
    REC_CTX *ctx = rec_ctx(b);

    log->rec = NULL;
    log->n = 0;
    if (ctx == NULL || dir < 0 || dir > 1)
        return 0;
    log->rec = malloc((ctx->dir[dir].n + 1) * sizeof(*log->rec));
    if (log->rec == NULL)
        return 0;
    if (ctx->dir[dir].n > 0)
        memcpy(log->rec, ctx->dir[dir].rec,
               ctx->dir[dir].n * sizeof(*log->rec));
    log->n = ctx->dir[dir].n;
    return 1;
}

void recbio_log_free(RECBIO_LOG *log)
{
    if (log == NULL)
        return;
    free(log->rec);
    log->rec = NULL;
    log->n = 0;
}

int recbio_log_compare(const RECBIO_LOG *a, const RECBIO_LOG *b, char *why,
                       size_t len)
{
    size_t i, n = a->n < b->n ? a->n : b->n;

    for (i = 0; i < n; i++) {
        if (a->rec[i].type != b->rec[i].type
            || a->rec[i].len != b->rec[i].len) {
            snprintf(why, len,
                     "record %zu differs: %u:%u against %u:%u (logs of %zu "
                     "and %zu records)",
                     i, a->rec[i].type, a->rec[i].len, b->rec[i].type,
                     b->rec[i].len, a->n, b->n);
            return 0;
        }
    }
    if (a->n != b->n) {
        snprintf(why, len, "logs of %zu and %zu records (equal up to %zu)",
                 a->n, b->n, n);
        return 0;
    }
    return 1;
}

void recbio_log_format(const RECBIO_LOG *log, char *buf, size_t len)
{
    size_t i, used = 0;

    if (len == 0)
        return;
    buf[0] = '\0';
    for (i = 0; i < log->n && used + 1 < len; i++) {
        int k = snprintf(buf + used, len - used, "%s%u:%u", i ? " " : "",
                         log->rec[i].type, log->rec[i].len);

        if (k < 0)
            break;
        used += (size_t)k;
    }
}

unsigned long recbio_ctrl_count(BIO *b, int cmd)
{
    REC_CTX *ctx = rec_ctx(b);

    if (ctx == NULL)
        return 0;
    if (cmd >= 0 && cmd < CTRL_SLOTS)
        return ctx->ctrls[cmd];
    return ctx->ctrls_other;
}
