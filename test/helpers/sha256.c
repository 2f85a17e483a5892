/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "testutil.h"

int sha256(const void *data, size_t len, unsigned char out[SHA256_LEN])
{
    unsigned int outlen = 0;

    return EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL) == 1
        && outlen == SHA256_LEN;
}

void sha256_hex(const unsigned char digest[SHA256_LEN],
                char hex[SHA256_HEX_LEN])
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < SHA256_LEN; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 0xf];
    }
    hex[2 * SHA256_LEN] = '\0';
}

int sha256_stream_init(SHA256_STREAM *s)
{
    s->bytes = 0;
    s->ctx = EVP_MD_CTX_new();
    if (s->ctx == NULL)
        return 0;
    if (!EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(s->ctx);
        s->ctx = NULL;
        return 0;
    }
    return 1;
}

int sha256_stream_update(SHA256_STREAM *s, const void *data, size_t len)
{
    if (s->ctx == NULL)
        return 0;
    s->bytes += len;
    return EVP_DigestUpdate(s->ctx, data, len) == 1;
}

int sha256_stream_final(SHA256_STREAM *s, unsigned char out[SHA256_LEN])
{
    unsigned int outlen = 0;
    int ok;

    if (s->ctx == NULL)
        return 0;
    ok = EVP_DigestFinal_ex(s->ctx, out, &outlen) == 1 && outlen == SHA256_LEN;
    EVP_MD_CTX_free(s->ctx);
    s->ctx = NULL;
    return ok;
}

void sha256_stream_cleanup(SHA256_STREAM *s)
{
    if (s == NULL)
        return;
    EVP_MD_CTX_free(s->ctx);
    s->ctx = NULL;
}

int payload_init(PAYLOAD *p, size_t len, uint64_t seed)
{
    uint64_t st = seed;
    size_t i;

    memset(p, 0, sizeof(*p));
    p->data = malloc(len > 0 ? len : 1);
    if (p->data == NULL)
        return 0;
    for (i = 0; i < len; i += 8) {
        uint64_t r = test_rand(&st);
        size_t n = len - i < 8 ? len - i : 8;

        memcpy(p->data + i, &r, n);
    }
    p->len = len;
    p->seed = seed;
    if (!sha256(p->data, len, p->sha)) {
        payload_free(p);
        return 0;
    }
    return 1;
}

int payload_init_text(PAYLOAD *p, size_t len, size_t line_len, uint64_t seed)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,";
    uint64_t st = seed;
    size_t i;

    memset(p, 0, sizeof(*p));
    if (line_len < 2)
        return 0;
    p->data = malloc(len > 0 ? len : 1);
    if (p->data == NULL)
        return 0;
    for (i = 0; i < len; i++) {
        if (i % line_len == line_len - 1 || i == len - 1)
            p->data[i] = '\n';
        else
            p->data[i] = (unsigned char)
                alphabet[test_rand_below(&st, sizeof(alphabet) - 1)];
    }
    p->len = len;
    p->seed = seed;
    if (!sha256(p->data, len, p->sha)) {
        payload_free(p);
        return 0;
    }
    return 1;
}

void payload_free(PAYLOAD *p)
{
    if (p == NULL)
        return;
    free(p->data);
    p->data = NULL;
    p->len = 0;
}

int payload_check(const PAYLOAD *p, const void *got, size_t len, char *why,
                  size_t why_len)
{
    unsigned char d[SHA256_LEN];
    char hexp[SHA256_HEX_LEN], hexg[SHA256_HEX_LEN];
    const unsigned char *g = got;
    size_t i, n;

    if (!sha256(got, len, d)) {
        snprintf(why, why_len, "SHA-256 computation failed");
        return 0;
    }
    if (len == p->len && memcmp(d, p->sha, SHA256_LEN) == 0)
        return 1;
    n = len < p->len ? len : p->len;
    for (i = 0; i < n && g[i] == p->data[i]; i++)
        continue;
    sha256_hex(p->sha, hexp);
    sha256_hex(d, hexg);
    snprintf(why, why_len,
             "payload mismatch: expected %zu bytes sha256 %s, got %zu bytes "
             "sha256 %s, first difference at offset %zu",
             p->len, hexp, len, hexg, i);
    return 0;
}
