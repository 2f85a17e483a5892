/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "bio_onion.h"
#include "detrand.h"
#include "fuzz_common.h"

/*
 * A P-256 key and a self-signed certificate for fuzz.test, valid until
 * 2126.  Fixed, unlike certificates made at run time: a certificate is
 * part of every handshake transcript, so a new one would make every
 * recorded handshake in the corpus fail at its Finished message.
 */
static const char server_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgk2KpOungQY25pM5e\n"
    "snw1QJiJjJhH1IYrAQmvvXpi6ZihRANCAARCUIm51vJReaPaWQc9j7gqZe1HcyvY\n"
    "MXufuG3V8iurEtX7YYtB583iljS7RcAidQxf+oRddpKZ/X5x+lhk6gWc\n"
    "-----END PRIVATE KEY-----\n";

static const char server_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBzTCCAXOgAwIBAgIUB4w9tPMn6iKI4vTyBkzmNT9kphcwCgYIKoZIzj0EAwIw\n"
    "MDEaMBgGA1UECgwRYmlvX29uaW9uIGZ1enppbmcxEjAQBgNVBAMMCWZ1enoudGVz\n"
    "dDAgFw0yNjExMjgxNDMxNDVaGA8yMTI2MTEwNDE0MzE0NVowMDEaMBgGA1UECgwR\n"
    "YmlvX29uaW9uIGZ1enppbmcxEjAQBgNVBAMMCWZ1enoudGVzdDBZMBMGByqGSM49\n"
    "AgEGCCqGSM49AwEHA0IABEJQibnW8lF5o9pZBz2PuCpl7UdzK9gxe5+4bdXyK6sS\n"
    "1fthi0HnzeKWNLtFwCJ1DF/6hF12kpn9fnH6WGTqBZyjaTBnMB0GA1UdDgQWBBRu\n"
    "b2bmccSW99ZmgZr8H3tRcJR8XTAfBgNVHSMEGDAWgBRub2bmccSW99ZmgZr8H3tR\n"
    "cJR8XTAPBgNVHRMBAf8EBTADAQH/MBQGA1UdEQQNMAuCCWZ1enoudGVzdDAKBggq\n"
    "hkjOPQQDAgNIADBFAiAW4XqwBjgEWfNnCdSYIbHdlsoYdrVS+WZfgQYA1rJnGAIh\n"
    "AN+t9UO/73fZercvY3HFPPiBRJbPT/gcXoTRocyPDEaB\n"
    "-----END CERTIFICATE-----\n";

static SSL_CTX *server_ctx[FZ_NCFG];
static SSL_CTX *client_ctx[FZ_NCFG];

static int configure(SSL_CTX *ctx, int cfg)
{
    switch (cfg) {
    case 0:
        return SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    case 1:
        return SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION)
            && SSL_CTX_set_ciphersuites(ctx, "TLS_CHACHA20_POLY1305_SHA256");
    case 2:
        return SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION)
            && SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256");
    default:
        return SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION)
            && SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES256-SHA384");
    }
}

void fz_init(void)
{
    BIO *kb = BIO_new_mem_buf(server_key_pem, -1);
    BIO *cb = BIO_new_mem_buf(server_cert_pem, -1);
    EVP_PKEY *key =
        kb != NULL ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    X509 *cert = cb != NULL ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    int i;

    FZ_CHECK(key != NULL && cert != NULL, "cannot load the fuzzing key");
    FZ_CHECK(detrand_install(), "cannot install the random source");
    fz_rng_reset();
    for (i = 0; i < FZ_NCFG; i++) {
        server_ctx[i] = SSL_CTX_new(TLS_server_method());
        client_ctx[i] = SSL_CTX_new(TLS_client_method());
        FZ_CHECK(server_ctx[i] != NULL && client_ctx[i] != NULL
                     && configure(server_ctx[i], i)
                     && configure(client_ctx[i], i)
                     && SSL_CTX_use_certificate(server_ctx[i], cert) == 1
                     && SSL_CTX_use_PrivateKey(server_ctx[i], key) == 1,
                 "cannot make the TLS contexts");
        /* Nothing may depend on an earlier input: no cache, no tickets. */
        SSL_CTX_set_session_cache_mode(server_ctx[i], SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(server_ctx[i], SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(server_ctx[i], 0);
        SSL_CTX_set_session_cache_mode(client_ctx[i], SSL_SESS_CACHE_OFF);
        SSL_CTX_set_verify(client_ctx[i], SSL_VERIFY_NONE, NULL);
    }
    EVP_PKEY_free(key);
    X509_free(cert);
    BIO_free(kb);
    BIO_free(cb);
    (void)BIO_onion_error_library();
}

SSL_CTX *fz_server_ctx(int cfg)
{
    return server_ctx[cfg % FZ_NCFG];
}

SSL_CTX *fz_client_ctx(int cfg)
{
    return client_ctx[cfg % FZ_NCFG];
}

void fz_rng_reset(void)
{
    detrand_reset(0x6F6E696F6E2D667AULL);
}

void fz_rng_select(int stream)
{
    detrand_select(stream);
}

void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d: check failed: %s: ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    ERR_print_errors_fp(stderr);
    abort();
}

int fz_onion_error_take(void)
{
    unsigned long e;
    int found = 0;

    while ((e = ERR_get_error()) != 0)
        if (ERR_GET_LIB(e) == BIO_onion_error_library())
            found = 1;
    return found;
}

void fz_check_onion(BIO *b, int max_depth)
{
    int depth = BIO_onion_get_depth(b);
    int where = BIO_onion_get_error_layer(b);

    FZ_CHECK(depth >= 0 && depth <= max_depth, "depth %d of at most %d", depth,
             max_depth);
    FZ_CHECK(where == BIO_ONION_ERROR_NONE || where == BIO_ONION_ERROR_TRANSPORT
                 || (where >= 0 && where < max_depth),
             "error layer %d (depth %d of at most %d)", where, depth,
             max_depth);
}

int fz_write_file(const char *dir, const char *name, const unsigned char *data,
                  size_t len)
{
    char path[4096];
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((f = fopen(path, "wb")) == NULL)
        return 0;
    ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}
