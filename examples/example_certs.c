/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/* Throw-away certificates for the examples, made in memory. */

#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "bio_onion.h"
#include "example_certs.h"

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (ext == NULL)
        return 0;
    ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/*
 * make_cert returns a certificate for |cn| holding |key|, signed by
 * |issuer_key| (|issuer| NULL: self-signed CA), or NULL.
 */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer,
                       EVP_PKEY *issuer_key)
{
    X509 *cert = X509_new();
    X509_NAME *subject = X509_NAME_new();
    char san[300];
    int ok;

    if (cert == NULL || subject == NULL)
        goto err;
    ok = X509_set_version(cert, X509_VERSION_3)
        && ASN1_INTEGER_set(X509_get_serialNumber(cert), issuer == NULL ? 1 : 2)
        && X509_gmtime_adj(X509_getm_notBefore(cert), -3600)
        && X509_gmtime_adj(X509_getm_notAfter(cert), 86400L)
        && X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                      (const unsigned char *)cn, -1, -1, 0)
        && X509_set_subject_name(cert, subject)
        && X509_set_issuer_name(
             cert, issuer == NULL ? subject : X509_get_subject_name(issuer))
        && X509_set_pubkey(cert, key);
    if (!ok)
        goto err;
    if (issuer == NULL) {
        ok = add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE")
            && add_ext(cert, cert, NID_key_usage, "critical,keyCertSign");
    } else {
        snprintf(san, sizeof(san), "DNS:%s", cn);
        ok = add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE")
            && add_ext(cert, issuer, NID_subject_alt_name, san)
            && add_ext(cert, issuer, NID_ext_key_usage, "serverAuth");
    }
    if (!ok || !X509_sign(cert, issuer_key, EVP_sha256()))
        goto err;
    X509_NAME_free(subject);
    return cert;
err:
    X509_NAME_free(subject);
    X509_free(cert);
    return NULL;
}

int example_ctx_pair(const char *name, SSL_CTX **server, SSL_CTX **client)
{
    EVP_PKEY *ca_key = EVP_EC_gen("P-256");
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *ca = NULL, *cert = NULL;
    SSL_CTX *sctx = NULL, *cctx = NULL;
    int ret = 0;

    if (ca_key == NULL || key == NULL)
        goto end;
    ca = make_cert("bio_onion example CA", ca_key, NULL, ca_key);
    if (ca == NULL)
        goto end;
    cert = make_cert(name, key, ca, ca_key);
    if (cert == NULL)
        goto end;
    sctx = SSL_CTX_new(TLS_server_method());
    cctx = SSL_CTX_new(TLS_client_method());
    if (sctx == NULL || cctx == NULL || !SSL_CTX_use_certificate(sctx, cert)
        || !SSL_CTX_use_PrivateKey(sctx, key)
        || !SSL_CTX_check_private_key(sctx)
        || !X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), ca))
        goto end;
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
    *server = sctx;
    *client = cctx;
    sctx = cctx = NULL;
    ret = 1;
end:
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
    return ret;
}

void example_print_layers(const char *who, BIO *onion)
{
    int depth = BIO_onion_get_depth(onion);
    char subject[256];
    X509 *peer;
    SSL *ssl;
    int i;

    for (i = 0; i < depth; i++) {
        if (BIO_onion_get_ssl(onion, i, &ssl) != 1)
            continue;
        peer = SSL_get0_peer_certificate(ssl);
        if (peer != NULL)
            X509_NAME_oneline(X509_get_subject_name(peer), subject,
                              sizeof(subject));
        else
            snprintf(subject, sizeof(subject), "(no certificate)");
        fprintf(stderr, "%s: layer %d: %s %s peer %s\n", who, i,
                SSL_get_version(ssl), SSL_get_cipher_name(ssl), subject);
    }
}
