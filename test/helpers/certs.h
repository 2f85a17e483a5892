/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * A test PKI generated in memory at run time (EC P-256, SHA-256): a root
 * CA, a second unrelated CA, and leaf certificates for host names: valid,
 * expired, or issued by the unrelated CA.  Everything is generated once per
 * process and cached (key generation is the slow part); the helpers are
 * thread-safe.  Also SSL_CTX builders for one layer.
 */

#ifndef ONION_TEST_CERTS_H
#define ONION_TEST_CERTS_H

#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Kinds of leaf certificate. */
#define CERTS_LEAF_GOOD 0    /* issued by the root CA, valid now */
#define CERTS_LEAF_EXPIRED 1 /* issued by the root CA, expired yesterday */
#define CERTS_LEAF_FOREIGN 2 /* issued by the unrelated CA */

/*
 * certs_init generates the two CAs (once per process; later calls return
 * at once).  Returns 1 on success, 0 on failure (error queue set).
 */
int certs_init(void);

/* certs_cleanup frees everything certs_init and certs_leaf created. */
void certs_cleanup(void);

/* certs_root and certs_other_ca return the CA certificates (borrowed). */
X509 *certs_root(void);
X509 *certs_other_ca(void);

/*
 * certs_leaf returns, creating and caching it on first use, the leaf of
 * |kind| for |host| (subjectAltName DNS:|host|, CN=|host|).  |*cert| and
 * |*key| are borrowed and live until certs_cleanup.  Returns 1 or 0.
 */
int certs_leaf(const char *host, int kind, X509 **cert, EVP_PKEY **key);

/*
 * CERTS_TLS_OPTS describes one TLS layer.  A zero version means the
 * library default (min) or highest (max).  |ciphersuites| is the TLS 1.3
 * list and |cipher_list| the TLS 1.2 list (NULL keeps the default).  The
 * server presents the |leaf_kind| leaf for |host|; the client trusts the
 * root CA, verifies the server (SSL_VERIFY_PEER) and checks |host| with
 * X509_VERIFY_PARAM_set1_host, unless |no_verify| is set.  |no_tickets|
 * turns TLS 1.3 session tickets off on the server (they are on by default,
 * as in OpenSSL).
 */
typedef struct certs_tls_opts_st {
    int min_version;
    int max_version;
    const char *ciphersuites;
    const char *cipher_list;
    const char *host;
    int leaf_kind;
    int no_verify;
    int no_tickets;
    uint64_t options; /* extra SSL_OP_* for both sides */
} CERTS_TLS_OPTS;

/*
 * certs_server_ctx and certs_client_ctx return a new SSL_CTX for |o|, owned
 * by the caller, or NULL on failure (error queue set).
 */
SSL_CTX *certs_server_ctx(const CERTS_TLS_OPTS *o);
SSL_CTX *certs_client_ctx(const CERTS_TLS_OPTS *o);

/*
 * certs_ctx_pair creates both contexts for |o|.  Returns 1, or 0 with
 * nothing allocated.
 */
int certs_ctx_pair(const CERTS_TLS_OPTS *o, SSL_CTX **client, SSL_CTX **server);

/*
 * certs_peer_cn writes the CN of the peer certificate of |ssl| into |buf|.
 * Returns 1, or 0 if there is no peer certificate.
 */
int certs_peer_cn(SSL *ssl, char *buf, size_t len);

#endif /* ONION_TEST_CERTS_H */
