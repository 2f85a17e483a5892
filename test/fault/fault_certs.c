/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * Fixed certificates for the fault-injection test: a CA and a leaf for
 * layer.test, valid until 2126, with Ed25519 keys.  Schedules locate the
 * records of a layer by their offsets in a clean run, and a failure must
 * replay byte for byte from its seed in another process, so handshake
 * lengths must not vary: the test helpers date their certificates from the
 * current time (a new certificate every day), and an ECDSA signature is 70
 * to 72 bytes long depending on what it signs, while an Ed25519 signature
 * is always 64 bytes.
 */

#include <openssl/pem.h>

#include "fault_certs.h"

static const char ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBmTCCAUugAwIBAgIUc4s4GLnGapQMhkzSzcpW+S2j0tswBQYDK2VwMEExGDAW\n"
    "BgNVBAoMD2Jpb19vbmlvbiB0ZXN0czElMCMGA1UEAwwcYmlvX29uaW9uIGZhdWx0\n"
    "LWluamVjdGlvbiBDQTAgFw0yNjExMjgxNDU1MTJaGA8yMTI2MTEwNDE0NTUxMlow\n"
    "QTEYMBYGA1UECgwPYmlvX29uaW9uIHRlc3RzMSUwIwYDVQQDDBxiaW9fb25pb24g\n"
    "ZmF1bHQtaW5qZWN0aW9uIENBMCowBQYDK2VwAyEAoBesyuoFSkDVtLhqpxjRg4rO\n"
    "YJT8H+3xzZS9XwLy3LujUzBRMB0GA1UdDgQWBBRm5N47xh1+h2EyNsl4uqJBitF2\n"
    "MDAfBgNVHSMEGDAWgBRm5N47xh1+h2EyNsl4uqJBitF2MDAPBgNVHRMBAf8EBTAD\n"
    "AQH/MAUGAytlcANBAGF5KpEmMyIseTbz0R1VTbnbwLY5G4R/YOaso1fhrKRuo+YQ\n"
    "hrfcKuozd1FI684TKVjdAUhojOnaT1/ZwINF4wo=\n"
    "-----END CERTIFICATE-----\n";

static const char leaf_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBwjCCAXSgAwIBAgIUY5i2s9XEMvvWJ0ff6UBf3Z6nsAcwBQYDK2VwMEExGDAW\n"
    "BgNVBAoMD2Jpb19vbmlvbiB0ZXN0czElMCMGA1UEAwwcYmlvX29uaW9uIGZhdWx0\n"
    "LWluamVjdGlvbiBDQTAgFw0yNjExMjgxNDU1MTJaGA8yMTI2MTEwNDE0NTUxMlow\n"
    "LzEYMBYGA1UECgwPYmlvX29uaW9uIHRlc3RzMRMwEQYDVQQDDApsYXllci50ZXN0\n"
    "MCowBQYDK2VwAyEAfWVTZ6mrGc4eC2HLQErgWez296rdp2KtvqC1ZYEcCkijgY0w\n"
    "gYowFQYDVR0RBA4wDIIKbGF5ZXIudGVzdDAMBgNVHRMBAf8EAjAAMA4GA1UdDwEB\n"
    "/wQEAwIHgDATBgNVHSUEDDAKBggrBgEFBQcDATAdBgNVHQ4EFgQU8T8nRZ+Mz3k1\n"
    "olRMzvDJ8x20SuswHwYDVR0jBBgwFoAUZuTeO8YdfodhMjbJeLqiQYrRdjAwBQYD\n"
    "K2VwA0EAa76ZbN5II13tnybmLmqixucLgTEs80i0nPBIssQV6Te40W4O6kpFW+AD\n"
    "kkdIG1J8/imtZO5ZjSUIaRbnYnohAw==\n"
    "-----END CERTIFICATE-----\n";

static const char leaf_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIN2vxfAplrhYNt10iILW5SyE7lNQiMvG+fXpY9fGuEN7\n"
    "-----END PRIVATE KEY-----\n";

static void *load(const char *pem, int key)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    void *r = NULL;

    if (b != NULL)
        r = key ? (void *)PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)
                : (void *)PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    return r;
}

int fault_certs_configure(SSL_CTX *client, SSL_CTX *server)
{
    X509 *ca = load(ca_pem, 0), *leaf = load(leaf_pem, 0);
    EVP_PKEY *key = load(leaf_key_pem, 1);
    int ok = ca != NULL && leaf != NULL && key != NULL
        && SSL_CTX_use_certificate(server, leaf) == 1
        && SSL_CTX_use_PrivateKey(server, key) == 1
        && X509_STORE_add_cert(SSL_CTX_get_cert_store(client), ca) == 1
        && X509_VERIFY_PARAM_set1_host(SSL_CTX_get0_param(client),
                                       FAULT_CERTS_HOST, 0)
            == 1;

    if (ok)
        SSL_CTX_set_verify(client, SSL_VERIFY_PEER, NULL);
    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(key);
    return ok;
}
