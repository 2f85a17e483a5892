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

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "certs.h"

#define DAY (24L * 60 * 60)

typedef struct leaf_st {
    struct leaf_st *next;
    char *host;
    int kind;
    X509 *cert;
    EVP_PKEY *key;
} LEAF;

static pthread_mutex_t certs_lock = PTHREAD_MUTEX_INITIALIZER;
static int certs_ready;
static X509 *root_cert, *other_cert;
static EVP_PKEY *root_key, *other_key;
static LEAF *leaves;

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok;

    if (ext == NULL)
        return 0;
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/*
 * make_cert issues a certificate for |key|.  With |issuer| NULL it is
 * self-signed.  |host| non-NULL makes a TLS server leaf for that name.
 */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *host,
                       X509 *issuer, EVP_PKEY *issuer_key, long from_days,
                       long to_days)
{
    X509 *x = X509_new();
    X509_NAME *name;
    X509V3_CTX v3;
    BIGNUM *serial = BN_new();
    char san[300];

    if (x == NULL || serial == NULL)
        goto err;
    if (!X509_set_version(x, X509_VERSION_3)
        || !BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)
        || BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) == NULL
        || X509_gmtime_adj(X509_getm_notBefore(x), from_days * DAY) == NULL
        || X509_gmtime_adj(X509_getm_notAfter(x), to_days * DAY) == NULL
        || !X509_set_pubkey(x, key))
        goto err;
    name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                    (const unsigned char *)"bio_onion tests",
                                    -1, -1, 0)
        || !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                       (const unsigned char *)cn, -1, -1, 0))
        goto err;
    if (!X509_set_issuer_name(
            x, issuer != NULL ? X509_get_subject_name(issuer) : name))
        goto err;
    X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    if (host == NULL) {
        if (!add_ext(x, &v3, NID_basic_constraints, "critical,CA:TRUE")
            || !add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign")
            || !add_ext(x, &v3, NID_subject_key_identifier, "hash"))
            goto err;
    } else {
        if (strlen(host) > sizeof(san) - 5)
            goto err;
        strcpy(san, "DNS:");
        strcat(san, host);
        if (!add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE")
            || !add_ext(x, &v3, NID_key_usage, "critical,digitalSignature")
            || !add_ext(x, &v3, NID_ext_key_usage, "serverAuth,clientAuth")
            || !add_ext(x, &v3, NID_subject_alt_name, san))
            goto err;
    }
    if (X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) <= 0)
        goto err;
    BN_free(serial);
    return x;
err:
    BN_free(serial);
    X509_free(x);
    return NULL;
}

static int make_ca(const char *cn, X509 **cert, EVP_PKEY **key)
{
    *key = EVP_EC_gen("P-256");
    if (*key == NULL)
        return 0;
    *cert = make_cert(*key, cn, NULL, NULL, NULL, -1, 3650);
    if (*cert == NULL) {
        EVP_PKEY_free(*key);
        *key = NULL;
        return 0;
    }
    return 1;
}

int certs_init(void)
{
    int ok;

    pthread_mutex_lock(&certs_lock);
    if (!certs_ready) {
        certs_ready = make_ca("bio_onion test root CA", &root_cert, &root_key)
            && make_ca("bio_onion unrelated CA", &other_cert, &other_key);
    }
    ok = certs_ready;
    pthread_mutex_unlock(&certs_lock);
    return ok;
}

void certs_cleanup(void)
{
    LEAF *l, *next;

    pthread_mutex_lock(&certs_lock);
    for (l = leaves; l != NULL; l = next) {
        next = l->next;
        X509_free(l->cert);
        EVP_PKEY_free(l->key);
        free(l->host);
        free(l);
    }
    leaves = NULL;
    X509_free(root_cert);
    X509_free(other_cert);
    EVP_PKEY_free(root_key);
    EVP_PKEY_free(other_key);
    root_cert = other_cert = NULL;
    root_key = other_key = NULL;
    certs_ready = 0;
    pthread_mutex_unlock(&certs_lock);
}

X509 *certs_root(void)
{
    return certs_init() ? root_cert : NULL;
}

X509 *certs_other_ca(void)
{
    return certs_init() ? other_cert : NULL;
}

int certs_leaf(const char *host, int kind, X509 **cert, EVP_PKEY **key)
{
    LEAF *l;
    int ok = 0;

    *cert = NULL;
    *key = NULL;
    if (host == NULL || !certs_init())
        return 0;
    pthread_mutex_lock(&certs_lock);
    for (l = leaves; l != NULL; l = l->next)
        if (l->kind == kind && strcmp(l->host, host) == 0)
            break;
    if (l == NULL) {
        l = calloc(1, sizeof(*l));
        if (l == NULL)
            goto end;
        l->kind = kind;
        l->host = strdup(host);
        l->key = EVP_EC_gen("P-256");
        if (l->host != NULL && l->key != NULL) {
            switch (kind) {
            case CERTS_LEAF_GOOD:
                l->cert =
                    make_cert(l->key, host, host, root_cert, root_key, -1, 365);
                break;
            case CERTS_LEAF_EXPIRED:
                l->cert =
                    make_cert(l->key, host, host, root_cert, root_key, -30, -1);
                break;
            case CERTS_LEAF_FOREIGN:
                l->cert = make_cert(l->key, host, host, other_cert, other_key,
                                    -1, 365);
                break;
            default:
                break;
            }
        }
        if (l->cert == NULL) {
            EVP_PKEY_free(l->key);
            free(l->host);
            free(l);
            goto end;
        }
        l->next = leaves;
        leaves = l;
    }
    *cert = l->cert;
    *key = l->key;
    ok = 1;
end:
    pthread_mutex_unlock(&certs_lock);
    return ok;
}

static int set_common(SSL_CTX *ctx, const CERTS_TLS_OPTS *o)
{
    if (o->min_version != 0
        && !SSL_CTX_set_min_proto_version(ctx, o->min_version))
        return 0;
    if (o->max_version != 0
        && !SSL_CTX_set_max_proto_version(ctx, o->max_version))
        return 0;
    if (o->ciphersuites != NULL
        && !SSL_CTX_set_ciphersuites(ctx, o->ciphersuites))
        return 0;
    if (o->cipher_list != NULL && !SSL_CTX_set_cipher_list(ctx, o->cipher_list))
        return 0;
    if (o->options != 0)
        SSL_CTX_set_options(ctx, o->options);
    return 1;
}

SSL_CTX *certs_server_ctx(const CERTS_TLS_OPTS *o)
{
    SSL_CTX *ctx = NULL;
    X509 *cert;
    EVP_PKEY *key;

    if (!certs_leaf(o->host != NULL ? o->host : "localhost", o->leaf_kind,
                    &cert, &key))
        goto err;
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || !set_common(ctx, o)
        || SSL_CTX_use_certificate(ctx, cert) != 1
        || SSL_CTX_use_PrivateKey(ctx, key) != 1
        || SSL_CTX_check_private_key(ctx) != 1)
        goto err;
    if (o->no_tickets && !SSL_CTX_set_num_tickets(ctx, 0))
        goto err;
    return ctx;
err:
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *certs_client_ctx(const CERTS_TLS_OPTS *o)
{
    SSL_CTX *ctx = NULL;
    X509 *root = certs_root();

    if (root == NULL)
        goto err;
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL || !set_common(ctx, o))
        goto err;
    if (!o->no_verify) {
        if (X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), root) != 1)
            goto err;
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (o->host != NULL
            && X509_VERIFY_PARAM_set1_host(SSL_CTX_get0_param(ctx), o->host, 0)
                != 1)
            goto err;
    }
    return ctx;
err:
    SSL_CTX_free(ctx);
    return NULL;
}

int certs_ctx_pair(const CERTS_TLS_OPTS *o, SSL_CTX **client, SSL_CTX **server)
{
    *client = certs_client_ctx(o);
    *server = certs_server_ctx(o);
    if (*client == NULL || *server == NULL) {
        SSL_CTX_free(*client);
        SSL_CTX_free(*server);
        *client = *server = NULL;
        return 0;
    }
    return 1;
}

int certs_peer_cn(SSL *ssl, char *buf, size_t len)
{
    X509 *peer = SSL_get0_peer_certificate(ssl);

    if (len > 0)
        buf[0] = '\0';
    if (peer == NULL || len > (size_t)INT_MAX)
        return 0;
    return X509_NAME_get_text_by_NID(X509_get_subject_name(peer),
                                     NID_commonName, buf, (int)len)
        > 0;
}
