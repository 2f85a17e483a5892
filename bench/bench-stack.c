/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * onion-bench: certificates and contexts made in memory, and the three
 * stacks compared: a raw socket BIO, one onion BIO of N layers (public API
 * only), and a plain nested chain of N BIO_f_ssl BIOs.
 */

#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "bio_onion.h"
#include "bench.h"

#define BENCH_CN "onion-bench.test"

static const char *const suite_names[BENCH_SUITES] = {
    "t13-aes128gcm",
    "t13-chacha20",
    "t12-aes128gcm",
};

static const char *const suite_labels[BENCH_SUITES] = {
    "TLS 1.3 AES-128-GCM",
    "TLS 1.3 ChaCha20-Poly1305",
    "TLS 1.2 AES-128-GCM",
};

const char *bench_suite_name(int suite)
{
    return suite_names[suite];
}

const char *bench_suite_label(int suite)
{
    return suite_labels[suite];
}

/*
 * bench_suite_overhead is the record expansion of one layer: TLS 1.3 adds a
 * 5-byte header, the inner content type byte and a 16-byte tag; TLS 1.2
 * AES-GCM a 5-byte header, an 8-byte explicit nonce and a 16-byte tag.
 */
size_t bench_suite_overhead(int suite)
{
    return suite == BENCH_T12_AES ? 5 + 8 + 16 : 5 + 1 + 16;
}

const char *bench_impl_name(int impl)
{
    switch (impl) {
    case BENCH_RAW:
        return "raw socket BIO";
    case BENCH_ONION:
        return "bio_onion";
    default:
        return "BIO_f_ssl chain";
    }
}

const char *bench_xport_name(int xport)
{
    return xport == BENCH_SOCKETPAIR ? "socketpair" : "loopback TCP";
}

/* A self-signed EC P-256 certificate (ECDSA with SHA-256), made in memory. */
static int make_cert(EVP_PKEY **keyp, X509 **certp)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509_NAME *name;

    if (key == NULL || x == NULL || !X509_set_version(x, 2)
        || !ASN1_INTEGER_set(X509_get_serialNumber(x), 1)
        || X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL
        || X509_gmtime_adj(X509_getm_notAfter(x), 7 * 86400) == NULL
        || !X509_set_pubkey(x, key))
        goto err;
    name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    (const unsigned char *)BENCH_CN, -1, -1, 0)
        || !X509_set_issuer_name(x, name) || !X509_sign(x, key, EVP_sha256()))
        goto err;
    *keyp = key;
    *certp = x;
    return 1;
err:
    EVP_PKEY_free(key);
    X509_free(x);
    return 0;
}

static SSL_CTX *make_ctx(int suite, int server, int release, EVP_PKEY *key,
                         X509 *cert)
{
    SSL_CTX *ctx =
        SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    int v = suite == BENCH_T12_AES ? TLS1_2_VERSION : TLS1_3_VERSION;

    if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, v)
        || !SSL_CTX_set_max_proto_version(ctx, v))
        goto err;
    if (suite == BENCH_T12_AES) {
        if (!SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256"))
            goto err;
    } else if (!SSL_CTX_set_ciphersuites(ctx,
                                         suite == BENCH_T13_AES
                                             ? "TLS_AES_128_GCM_SHA256"
                                             : "TLS_CHACHA20_POLY1305_"
                                               "SHA256")) {
        goto err;
    }
    /* Sessions are not resumed; a cache would only blur memory figures. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (release)
        SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (server) {
        if (!SSL_CTX_use_certificate(ctx, cert)
            || !SSL_CTX_use_PrivateKey(ctx, key)
            || !SSL_CTX_check_private_key(ctx))
            goto err;
    } else {
        if (!X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), cert))
            goto err;
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    return ctx;
err:
    SSL_CTX_free(ctx);
    return NULL;
}

int bench_tls_init(struct bench_tls *t)
{
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    int s, r, ok = 0;

    memset(t, 0, sizeof(*t));
    if (!make_cert(&key, &cert))
        goto end;
    for (s = 0; s < BENCH_SUITES; s++) {
        for (r = 0; r < 2; r++) {
            t->client[s][r] = make_ctx(s, 0, r, key, cert);
            t->server[s][r] = make_ctx(s, 1, r, key, cert);
            if (t->client[s][r] == NULL || t->server[s][r] == NULL)
                goto end;
        }
    }
    strcpy(t->cert_desc,
           "self-signed EC P-256 (ECDSA-SHA256), made in "
           "memory; client verifies it");
    ok = 1;
end:
    EVP_PKEY_free(key);
    X509_free(cert);
    if (!ok) {
        bench_errors("making certificates and contexts");
        bench_tls_free(t);
    }
    return ok;
}

void bench_tls_free(struct bench_tls *t)
{
    int s, r;

    for (s = 0; s < BENCH_SUITES; s++) {
        for (r = 0; r < 2; r++) {
            SSL_CTX_free(t->client[s][r]);
            SSL_CTX_free(t->server[s][r]);
            t->client[s][r] = t->server[s][r] = NULL;
        }
    }
}

/*
 * bench_stack_new builds a stack over |fd| (not closed by the BIOs; see
 * bench_stack_free): socket BIO, optionally the counting BIO, then either
 * nothing (raw), an onion with |depth| layers pushed with
 * BIO_onion_push_tls, or |depth| BIO_f_ssl BIOs pushed one on another.
 * Handshakes are not started.
 */
int bench_stack_new(struct bench_stack *st, int impl, int depth, SSL_CTX *ctx,
                    int client, int fd, struct bench_count *count)
{
    BIO *top, *b = NULL;
    SSL *ssl;
    int i;

    st->top = NULL;
    st->fd = fd;
    st->depth = impl == BENCH_RAW ? 0 : depth;
    top = BIO_new_socket(fd, BIO_NOCLOSE);
    if (top == NULL)
        goto err;
    if (count != NULL) {
        b = bench_count_new(count);
        if (b == NULL)
            goto err;
        top = BIO_push(b, top);
        b = NULL;
    }
    if (impl == BENCH_ONION) {
        b = BIO_new_onion();
        if (b == NULL)
            goto err;
        top = BIO_push(b, top);
        b = NULL;
        for (i = 0; i < depth; i++) {
            if (BIO_onion_push_tls(top, ctx, client) != 1)
                goto err;
        }
    } else if (impl == BENCH_CHAIN) {
        for (i = 0; i < depth; i++) {
            ssl = SSL_new(ctx);
            if (ssl == NULL)
                goto err;
            if (client)
                SSL_set_connect_state(ssl);
            else
                SSL_set_accept_state(ssl);
            b = BIO_new(BIO_f_ssl());
            if (b == NULL) {
                SSL_free(ssl);
                goto err;
            }
            BIO_set_ssl(b, ssl, BIO_CLOSE);
            top = BIO_push(b, top);
            b = NULL;
        }
    }
    st->top = top;
    return 1;
err:
    bench_errors("building the stack");
    BIO_free(b);
    BIO_free_all(top);
    return 0;
}

/* bench_stack_handshake completes every layer's handshake (blocking). */
int bench_stack_handshake(struct bench_stack *st)
{
    if (st->depth == 0)
        return 1;
    if (BIO_do_handshake(st->top) != 1) {
        bench_errors("handshake");
        return 0;
    }
    return 1;
}

void bench_stack_free(struct bench_stack *st)
{
    BIO_free_all(st->top);
    st->top = NULL;
    if (st->fd >= 0)
        close(st->fd);
    st->fd = -1;
}

int bench_write_all(BIO *b, const unsigned char *p, size_t n)
{
    size_t done = 0;
    int k, len;

    while (done < n) {
        len = n - done > (1U << 30) ? 1 << 30 : (int)(n - done);
        k = BIO_write(b, p + done, len);
        if (k <= 0)
            return 0;
        done += (size_t)k;
    }
    return 1;
}

int bench_read_full(BIO *b, unsigned char *p, size_t n)
{
    size_t done = 0;
    int k, len;

    while (done < n) {
        len = n - done > (1U << 30) ? 1 << 30 : (int)(n - done);
        k = BIO_read(b, p + done, len);
        if (k <= 0)
            return 0;
        done += (size_t)k;
    }
    return 1;
}

/*
 * bench_ping exchanges one 64-byte request and its echo: the client sends
 * and checks the echo, the server echoes.  Returns 1 when it matched.
 */
int bench_ping(BIO *b, int client)
{
    unsigned char req[64], resp[64];
    size_t i;

    for (i = 0; i < sizeof(req); i++)
        req[i] = (unsigned char)(i * 7 + 1);
    if (client) {
        return bench_write_all(b, req, sizeof(req))
            && bench_read_full(b, resp, sizeof(resp))
            && memcmp(req, resp, sizeof(req)) == 0;
    }
    return bench_read_full(b, resp, sizeof(resp))
        && bench_write_all(b, resp, sizeof(resp));
}

/*
 * bench_sslbio_bytes measures what one BIO_f_ssl BIO costs through
 * OpenSSL's allocator (the chain's only per-layer overhead beyond the SSL
 * object), so that the onion's own overhead can be told apart.
 */
long long bench_sslbio_bytes(void)
{
    struct bench_mem m0, m1;
    BIO *b;

    bench_mem_set_tag(BENCH_TAG_MAIN);
    bench_mem_get(BENCH_TAG_MAIN, &m0);
    b = BIO_new(BIO_f_ssl());
    bench_mem_get(BENCH_TAG_MAIN, &m1);
    BIO_free(b);
    return b == NULL ? -1 : m1.live - m0.live;
}
