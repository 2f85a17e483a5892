/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * hello_onion: built by test/install/check-install.sh against an installed
 * copy of bio_onion only, with the flags of pkg-config.  Two onions over a
 * BIO pair nest two TLS layers, exchange a message (compared by SHA-256),
 * pop both layers, and check that the error library is registered.
 */

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <bio_onion.h>

#define MESSAGE "hello through two layers of TLS"

/* make_ctxs returns a server context with a fresh self-signed certificate
 * for "localhost" and a client context that trusts it. */
static int make_ctxs(SSL_CTX **sctx, SSL_CTX **cctx)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();
    int ok;

    ok = key != NULL && cert != NULL && name != NULL
        && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                      (const unsigned char *)"localhost", -1,
                                      -1, 0)
        && X509_set_version(cert, X509_VERSION_3)
        && ASN1_INTEGER_set(X509_get_serialNumber(cert), 1)
        && X509_gmtime_adj(X509_getm_notBefore(cert), -3600)
        && X509_gmtime_adj(X509_getm_notAfter(cert), 3600)
        && X509_set_subject_name(cert, name) && X509_set_issuer_name(cert, name)
        && X509_set_pubkey(cert, key) && X509_sign(cert, key, EVP_sha256())
        && (*sctx = SSL_CTX_new(TLS_server_method())) != NULL
        && (*cctx = SSL_CTX_new(TLS_client_method())) != NULL
        && SSL_CTX_use_certificate(*sctx, cert)
        && SSL_CTX_use_PrivateKey(*sctx, key)
        && X509_STORE_add_cert(SSL_CTX_get_cert_store(*cctx), cert);
    if (ok)
        SSL_CTX_set_verify(*cctx, SSL_VERIFY_PEER, NULL);
    X509_NAME_free(name);
    X509_free(cert);
    EVP_PKEY_free(key);
    return ok;
}

int main(void)
{
    SSL_CTX *sctx = NULL, *cctx = NULL;
    BIO *client = NULL, *server = NULL, *cpair = NULL, *spair = NULL;
    unsigned char sent[32], got[32];
    char buf[64];
    unsigned long err;
    int i, rc, rs, n, ok = 0;

    if (!make_ctxs(&sctx, &cctx) || !BIO_new_bio_pair(&cpair, 0, &spair, 0)
        || (client = BIO_new_onion()) == NULL
        || (server = BIO_new_onion()) == NULL)
        goto end;
    BIO_push(client, cpair);
    BIO_push(server, spair);
    cpair = spair = NULL;
    for (i = 0; i < 2; i++) {
        if (BIO_onion_push_tls(client, cctx, 1) != 1
            || BIO_onion_push_tls(server, sctx, 0) != 1)
            goto end;
    }
    /* Both ends in one thread: step each until both are up. */
    for (i = 0; i < 100; i++) {
        rc = BIO_do_handshake(client);
        rs = BIO_do_handshake(server);
        if (rc == 1 && rs == 1)
            break;
        if ((rc != 1 && !BIO_should_retry(client))
            || (rs != 1 && !BIO_should_retry(server)))
            goto end;
    }
    if (BIO_onion_get_depth(client) != 2
        || BIO_write(client, MESSAGE, (int)strlen(MESSAGE))
            != (int)strlen(MESSAGE)
        || (n = BIO_read(server, buf, sizeof(buf))) <= 0
        || !EVP_Digest(MESSAGE, strlen(MESSAGE), sent, NULL, EVP_sha256(), NULL)
        || !EVP_Digest(buf, (size_t)n, got, NULL, EVP_sha256(), NULL)
        || memcmp(sent, got, sizeof(sent)) != 0)
        goto end;
    /* Pop both layers on both ends, stepping each in turn. */
    for (i = 0; i < 100; i++) {
        if (BIO_onion_get_depth(client) > 0 && BIO_onion_pop(client) != 1
            && !BIO_should_retry(client))
            goto end;
        if (BIO_onion_get_depth(server) > 0 && BIO_onion_pop(server) != 1
            && !BIO_should_retry(server))
            goto end;
        if (BIO_onion_get_depth(client) == 0
            && BIO_onion_get_depth(server) == 0)
            break;
    }
    if (BIO_onion_get_depth(client) != 0 || BIO_onion_get_depth(server) != 0)
        goto end;
    /* A pop at depth 0 raises the library's own error. */
    ERR_clear_error();
    if (BIO_onion_pop(client) > 0)
        goto end;
    err = ERR_get_error();
    if (ERR_GET_LIB(err) != BIO_onion_error_library()
        || ERR_GET_REASON(err) != BIO_ONION_R_NO_LAYER
        || ERR_reason_error_string(err) == NULL)
        goto end;
    printf("hello_onion: 2 layers up, %d bytes, SHA-256 matches, popped; "
           "error \"%s\"\n",
           n, ERR_reason_error_string(err));
    ok = 1;
end:
    if (!ok)
        ERR_print_errors_fp(stderr);
    BIO_free_all(client);
    BIO_free_all(server);
    BIO_free(cpair);
    BIO_free(spair);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    return ok ? 0 : 1;
}
