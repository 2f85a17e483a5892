/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * onion-bench: what the machine allows, measured in one thread: the
 * cipher alone through EVP, and OpenSSL's whole record layer with no
 * transport.
 */

#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "bench.h"

/* A connected pair over two memory BIOs; 1 on success. */
static int mem_pair(struct bench_tls *t, int suite, SSL **cp, SSL **sp)
{
    SSL *c = SSL_new(t->client[suite][0]), *s = SSL_new(t->server[suite][0]);
    BIO *c2s = BIO_new(BIO_s_mem()), *s2c = BIO_new(BIO_s_mem());
    int i, rc = 0, rs = 0;

    *cp = *sp = NULL;
    if (c == NULL || s == NULL || c2s == NULL || s2c == NULL || !BIO_up_ref(c2s)
        || !BIO_up_ref(s2c)) {
        BIO_free(c2s);
        BIO_free(s2c);
        goto err;
    }
    /* Each SSL takes one reference to each BIO. */
    SSL_set_bio(c, s2c, c2s);
    SSL_set_bio(s, c2s, s2c);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    for (i = 0; i < 100 && (rc != 1 || rs != 1); i++) {
        rc = SSL_do_handshake(c);
        rs = SSL_do_handshake(s);
    }
    if (rc != 1 || rs != 1)
        goto err;
    *cp = c;
    *sp = s;
    return 1;
err:
    SSL_free(c);
    SSL_free(s);
    return 0;
}

/*
 * OpenSSL's record layer alone, one thread, no transport and no nesting:
 * what each layer of any nested TLS built on OpenSSL 3.0 costs at least.
 * Seal: SSL_write of 256 KiB into a BIO_s_null sink (the copy into the
 * write buffer, the AEAD, the record header; no copy after).  Open, on a
 * second connection: SSL_read of records written (untimed) into a memory
 * BIO (the read copy into the read buffer, the AEAD, the copy out).
 */
int bench_record_speed(struct bench_tls *t, int suite, double secs,
                       double *seal, double *open)
{
    SSL *ca = NULL, *sa = NULL, *cb = NULL, *sb = NULL;
    BIO *sink = BIO_new(BIO_s_null());
    const size_t len = 256 * 1024;
    unsigned char *buf = malloc(len), *rbuf = malloc(len);
    double t_seal = 0, t_open = 0, t0;
    uint64_t seed = 7, bytes = 0;
    size_t got;
    int k, ok = 0;

    *seal = *open = 0;
    if (sink == NULL || buf == NULL || rbuf == NULL
        || !mem_pair(t, suite, &ca, &sa) || !mem_pair(t, suite, &cb, &sb))
        goto end;
    SSL_set0_wbio(ca, sink);
    sink = NULL;
    bench_fill(buf, len, &seed);
    while (t_seal + t_open < secs) {
        t0 = bench_now();
        if (SSL_write(ca, buf, (int)len) != (int)len)
            goto end;
        t_seal += bench_now() - t0;
        if (SSL_write(cb, buf, (int)len) != (int)len)
            goto end;
        t0 = bench_now();
        for (got = 0; got < len; got += (size_t)k) {
            k = SSL_read(sb, rbuf, (int)len);
            if (k <= 0)
                goto end;
        }
        t_open += bench_now() - t0;
        bytes += len;
    }
    *seal = (double)bytes / t_seal / 1e6;
    *open = (double)bytes / t_open / 1e6;
    ok = 1;
end:
    if (!ok)
        bench_errors("record layer speed");
    SSL_free(ca);
    SSL_free(sa);
    SSL_free(cb);
    SSL_free(sb);
    BIO_free(sink);
    free(buf);
    free(rbuf);
    return ok;
}

/* The cipher's own speed: AEAD-encrypt 16 KiB records through EVP. */
double bench_cipher_speed(int suite, double secs)
{
    EVP_CIPHER *c = EVP_CIPHER_fetch(
        NULL, suite == BENCH_T13_CHACHA ? "ChaCha20-Poly1305" : "AES-128-GCM",
        NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char key[32], iv[12], aad[5] = { 23, 3, 3, 0x40, 0x11 };
    unsigned char tag[16], *in = malloc(16384), *out = malloc(16384 + 64);
    uint64_t seed = 42, recs = 0;
    double t0, t = 0, speed = 0;
    int len, j;

    memset(key, 0x11, sizeof(key));
    memset(iv, 0, sizeof(iv));
    if (c == NULL || ctx == NULL || in == NULL || out == NULL
        || !EVP_EncryptInit_ex2(ctx, c, key, iv, NULL))
        goto end;
    bench_fill(in, 16384, &seed);
    t0 = bench_now();
    do {
        for (j = 0; j < 32; j++) {
            iv[11] = (unsigned char)recs;
            iv[10] = (unsigned char)(recs >> 8);
            if (!EVP_EncryptInit_ex2(ctx, NULL, NULL, iv, NULL)
                || !EVP_EncryptUpdate(ctx, NULL, &len, aad, sizeof(aad))
                || !EVP_EncryptUpdate(ctx, out, &len, in, 16384)
                || !EVP_EncryptFinal_ex(ctx, out + len, &len)
                || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag)
                    <= 0)
                goto end;
            recs++;
        }
        t = bench_now() - t0;
    } while (t < secs);
    speed = (double)recs * 16384 / t / 1e6;
end:
    if (speed == 0)
        bench_errors("cipher speed");
    EVP_CIPHER_free(c);
    EVP_CIPHER_CTX_free(ctx);
    free(in);
    free(out);
    return speed;
}
