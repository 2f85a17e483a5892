/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * onion-demo: three nested TLS layers over a socketpair, on the public API
 * only.  It makes a throwaway PKI in memory (one CA, one server certificate
 * per layer), runs a client and a server in two threads, starts TLS three
 * times (each layer inside the previous one, each with its own certificate,
 * host name check and protocol settings), sends a message through all three
 * and back, checks its SHA-256, then stops TLS layer by layer, checking
 * that the stream still works at every depth down to plain text.
 */

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "bio_onion.h"

#define DEPTH 3
#define MSG_LEN (256 * 1024)

/* What each layer asks for, and what the client must see negotiated. */
struct layer_conf {
    const char *host;
    int version; /* the only protocol version allowed on this layer */
    const char *version_name;
    const char *cipher; /* TLS 1.3 ciphersuite or TLS 1.2 cipher list */
};

static const struct layer_conf confs[DEPTH] = {
    { "layer0.onion.test", TLS1_3_VERSION, "TLSv1.3",
      "TLS_AES_128_GCM_SHA256" },
    { "layer1.onion.test", TLS1_3_VERSION, "TLSv1.3",
      "TLS_CHACHA20_POLY1305_SHA256" },
    { "layer2.onion.test", TLS1_2_VERSION, "TLSv1.2",
      "ECDHE-ECDSA-AES256-GCM-SHA384" },
};

/* What the client saw on each layer, printed by the main thread. */
struct layer_report {
    char version[32];
    char cipher[64];
    char peer[256];
    long verify;
    char server_cipher[64];
    int depth_after_pop;
};

/* One end of the conversation; each runs in its own thread. */
struct side {
    const char *name;
    int client;
    int fd;
    SSL_CTX *ctx[DEPTH];
    int ok;
};

static struct layer_report reports[DEPTH];
static unsigned char message[MSG_LEN];
static unsigned char message_sha[SHA256_DIGEST_LENGTH];
static unsigned char echo_sha[SHA256_DIGEST_LENGTH];
static unsigned char server_sha[SHA256_DIGEST_LENGTH];

/* Certificates. */

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (ext == NULL)
        return 0;
    ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/*
 * make_cert returns a certificate for |cn| with the key |key|, signed by
 * |issuer| with |issuer_key|, or self-signed when |issuer| is NULL.
 */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer,
                       EVP_PKEY *issuer_key, long serial)
{
    X509 *cert = X509_new();
    X509_NAME *name = NULL;
    char san[128];
    int is_ca = issuer == NULL;

    if (cert == NULL || !X509_set_version(cert, X509_VERSION_3)
        || !ASN1_INTEGER_set(X509_get_serialNumber(cert), serial)
        || X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == NULL
        || X509_gmtime_adj(X509_getm_notAfter(cert), 86400) == NULL
        || !X509_set_pubkey(cert, key))
        goto err;
    name = X509_NAME_new();
    if (name == NULL
        || !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                       (const unsigned char *)"bio_onion demo",
                                       -1, -1, 0)
        || !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                       (const unsigned char *)cn, -1, -1, 0)
        || !X509_set_subject_name(cert, name))
        goto err;
    if (is_ca) {
        issuer = cert;
        issuer_key = key;
    }
    if (!X509_set_issuer_name(cert, X509_get_subject_name(issuer))
        || !add_ext(cert, issuer, NID_subject_key_identifier, "hash")
        || !add_ext(cert, issuer, NID_authority_key_identifier, "keyid:always"))
        goto err;
    if (is_ca) {
        if (!add_ext(cert, issuer, NID_basic_constraints, "critical,CA:TRUE")
            || !add_ext(cert, issuer, NID_key_usage,
                        "critical,keyCertSign,cRLSign"))
            goto err;
    } else {
        snprintf(san, sizeof(san), "DNS:%s", cn);
        if (!add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE")
            || !add_ext(cert, issuer, NID_key_usage,
                        "critical,digitalSignature")
            || !add_ext(cert, issuer, NID_ext_key_usage, "serverAuth")
            || !add_ext(cert, issuer, NID_subject_alt_name, san))
            goto err;
    }
    if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0)
        goto err;
    X509_NAME_free(name);
    return cert;
err:
    X509_NAME_free(name);
    X509_free(cert);
    return NULL;
}

/* Contexts. */

static int set_layer_protocol(SSL_CTX *ctx, const struct layer_conf *conf)
{
    if (!SSL_CTX_set_min_proto_version(ctx, conf->version)
        || !SSL_CTX_set_max_proto_version(ctx, conf->version))
        return 0;
    if (conf->version == TLS1_3_VERSION)
        return SSL_CTX_set_ciphersuites(ctx, conf->cipher);
    return SSL_CTX_set_cipher_list(ctx, conf->cipher);
}

/*
 * make_contexts creates, for each layer, a server context holding that
 * layer's certificate and a client context that trusts only the demo CA.
 */
static int make_contexts(SSL_CTX *server[DEPTH], SSL_CTX *client[DEPTH])
{
    EVP_PKEY *ca_key = NULL, *key = NULL;
    X509 *ca = NULL, *cert = NULL;
    X509_STORE *store;
    int i, ok = 0;

    ca_key = EVP_EC_gen("P-256");
    if (ca_key == NULL)
        goto end;
    ca = make_cert("bio_onion demo CA", ca_key, NULL, NULL, 1);
    if (ca == NULL)
        goto end;
    for (i = 0; i < DEPTH; i++) {
        key = EVP_EC_gen("P-256");
        if (key == NULL)
            goto end;
        cert = make_cert(confs[i].host, key, ca, ca_key, 100 + i);
        if (cert == NULL)
            goto end;

        server[i] = SSL_CTX_new(TLS_server_method());
        if (server[i] == NULL || !set_layer_protocol(server[i], &confs[i])
            || SSL_CTX_use_certificate(server[i], cert) != 1
            || SSL_CTX_use_PrivateKey(server[i], key) != 1
            || SSL_CTX_check_private_key(server[i]) != 1)
            goto end;

        client[i] = SSL_CTX_new(TLS_client_method());
        if (client[i] == NULL || !set_layer_protocol(client[i], &confs[i]))
            goto end;
        store = SSL_CTX_get_cert_store(client[i]);
        if (X509_STORE_add_cert(store, ca) != 1)
            goto end;
        SSL_CTX_set_verify(client[i], SSL_VERIFY_PEER, NULL);

        X509_free(cert);
        cert = NULL;
        EVP_PKEY_free(key);
        key = NULL;
    }
    ok = 1;
end:
    X509_free(cert);
    EVP_PKEY_free(key);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return ok;
}

/* I/O helpers over a blocking onion. */

static int write_all(BIO *b, const void *buf, size_t len)
{
    size_t done = 0, n;

    while (done < len) {
        if (BIO_write_ex(b, (const unsigned char *)buf + done, len - done, &n)
            <= 0)
            return 0;
        done += n;
    }
    return BIO_flush(b) == 1;
}

static int read_all(BIO *b, void *buf, size_t len)
{
    size_t done = 0, n;

    while (done < len) {
        if (BIO_read_ex(b, (unsigned char *)buf + done, len - done, &n) <= 0)
            return 0;
        done += n;
    }
    return 1;
}

static void fail(const struct side *s, const char *what, BIO *onion)
{
    fprintf(stderr, "onion-demo: %s: %s failed", s->name, what);
    if (onion != NULL)
        fprintf(stderr, " (depth %d, error layer %d)",
                BIO_onion_get_depth(onion), BIO_onion_get_error_layer(onion));
    fprintf(stderr, "\n");
    /* The error queue is per thread: print it from the thread that failed. */
    ERR_print_errors_fp(stderr);
}

/*
 * ping sends a short line at the current depth and expects it back, to
 * show that the stream survives every push and pop.
 */
static int ping(BIO *onion, int client)
{
    char line[32], back[32];
    int len = snprintf(line, sizeof(line), "ping at depth %d\n",
                       BIO_onion_get_depth(onion));

    if (client)
        return write_all(onion, line, (size_t)len)
            && read_all(onion, back, (size_t)len)
            && memcmp(line, back, (size_t)len) == 0;
    return read_all(onion, back, (size_t)len)
        && memcmp(line, back, (size_t)len) == 0
        && write_all(onion, back, (size_t)len);
}

static void record_layer(int i, SSL *ssl)
{
    X509 *peer = SSL_get0_peer_certificate(ssl);
    BIO *mem;
    int n;

    snprintf(reports[i].version, sizeof(reports[i].version), "%s",
             SSL_get_version(ssl));
    snprintf(reports[i].cipher, sizeof(reports[i].cipher), "%s",
             SSL_get_cipher_name(ssl));
    reports[i].verify = SSL_get_verify_result(ssl);
    strcpy(reports[i].peer, "(none)");
    if (peer == NULL)
        return;
    mem = BIO_new(BIO_s_mem());
    if (mem == NULL)
        return;
    if (X509_NAME_print_ex(mem, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253)
        >= 0) {
        n = BIO_read(mem, reports[i].peer, sizeof(reports[i].peer) - 1);
        reports[i].peer[n > 0 ? n : 0] = '\0';
    }
    BIO_free(mem);
}

/*
 * run_side is the whole conversation, the same script on both sides: start
 * TLS three times, exchange the message, stop TLS three times.
 */
static void *run_side(void *arg)
{
    struct side *s = arg;
    int client = s->client;
    BIO *sock = NULL, *onion = NULL;
    unsigned char *buf = NULL;
    SSL *ssl;
    int i;

    sock = BIO_new_socket(s->fd, BIO_CLOSE);
    onion = BIO_new_onion();
    if (sock == NULL || onion == NULL) {
        fail(s, "BIO creation", NULL);
        goto end;
    }
    BIO_push(onion, sock);

    if (!ping(onion, client)) {
        fail(s, "plaintext ping", onion);
        goto end;
    }
    for (i = 0; i < DEPTH; i++) {
        /* Start TLS inside the current innermost layer. */
        if (BIO_onion_push_tls(onion, s->ctx[i], client) != 1) {
            fail(s, "push", onion);
            goto end;
        }
        if (BIO_onion_get_ssl(onion, -1, &ssl) != 1) {
            fail(s, "get_ssl", onion);
            goto end;
        }
        if (client
            && (SSL_set_tlsext_host_name(ssl, confs[i].host) != 1
                || SSL_set1_host(ssl, confs[i].host) != 1)) {
            fail(s, "host name setup", onion);
            goto end;
        }
        if (BIO_do_handshake(onion) != 1) {
            fail(s, "handshake", onion);
            goto end;
        }
        if (client) {
            record_layer(i, ssl);
        } else {
            /* Each thread writes its own fields; main reads after join. */
            snprintf(reports[i].server_cipher, sizeof(reports[i].server_cipher),
                     "%s", SSL_get_cipher_name(ssl));
        }
        if (!ping(onion, client)) {
            fail(s, "ping", onion);
            goto end;
        }
    }

    /* The message: client to server through three layers, and back. */
    if (client) {
        buf = OPENSSL_malloc(MSG_LEN);
        if (buf == NULL || !write_all(onion, message, MSG_LEN)
            || !read_all(onion, buf, MSG_LEN)) {
            fail(s, "round trip", onion);
            goto end;
        }
        SHA256(buf, MSG_LEN, echo_sha);
    } else {
        buf = OPENSSL_malloc(MSG_LEN);
        if (buf == NULL || !read_all(onion, buf, MSG_LEN)) {
            fail(s, "message read", onion);
            goto end;
        }
        SHA256(buf, MSG_LEN, server_sha);
        if (!write_all(onion, buf, MSG_LEN)) {
            fail(s, "echo", onion);
            goto end;
        }
    }

    /* Stop TLS, innermost first; both sides pop at once. */
    for (i = DEPTH - 1; i >= 0; i--) {
        if (BIO_onion_pop(onion) != 1 || BIO_onion_get_depth(onion) != i) {
            fail(s, "pop", onion);
            goto end;
        }
        if (client)
            reports[i].depth_after_pop = BIO_onion_get_depth(onion);
        if (!ping(onion, client)) {
            fail(s, "ping after pop", onion);
            goto end;
        }
    }
    s->ok = 1;
end:
    OPENSSL_free(buf);
    BIO_free_all(onion != NULL ? onion : sock);
    if (sock == NULL)
        close(s->fd);
    return NULL;
}

static void print_hex(const unsigned char *md, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        printf("%02x", md[i]);
}

int main(void)
{
    struct side server = { "server", 0, -1, { NULL }, 0 };
    struct side client = { "client", 1, -1, { NULL }, 0 };
    pthread_t server_thread, client_thread;
    int fds[2], i, ok = 1;

    /* A peer that fails closes its end; the other must see EPIPE, not die. */
    signal(SIGPIPE, SIG_IGN);
    if (make_contexts(server.ctx, client.ctx) != 1
        || RAND_bytes(message, sizeof(message)) != 1) {
        fprintf(stderr, "onion-demo: test PKI setup failed\n");
        ERR_print_errors_fp(stderr);
        ok = 0;
        goto end;
    }
    SHA256(message, sizeof(message), message_sha);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
        perror("onion-demo: socketpair");
        ok = 0;
        goto end;
    }
    server.fd = fds[0];
    client.fd = fds[1];
    if (pthread_create(&server_thread, NULL, run_side, &server) != 0) {
        close(fds[0]);
        close(fds[1]);
        fprintf(stderr, "onion-demo: pthread_create failed\n");
        ok = 0;
        goto end;
    }
    if (pthread_create(&client_thread, NULL, run_side, &client) != 0) {
        /* Closing the client end makes the server fail and return. */
        close(fds[1]);
        pthread_join(server_thread, NULL);
        fprintf(stderr, "onion-demo: pthread_create failed\n");
        ok = 0;
        goto end;
    }
    pthread_join(client_thread, NULL);
    pthread_join(server_thread, NULL);
    if (!client.ok || !server.ok) {
        ok = 0;
        goto end;
    }

    printf("bio_onion demo: %d nested TLS layers over a socketpair "
           "(client's view; layer 0 is the outermost)\n",
           DEPTH);
    for (i = 0; i < DEPTH; i++) {
        printf("layer %d: %s %s, peer %s, verify %s (%ld)\n", i,
               reports[i].version, reports[i].cipher, reports[i].peer,
               X509_verify_cert_error_string(reports[i].verify),
               reports[i].verify);
        if (strcmp(reports[i].version, confs[i].version_name) != 0
            || strcmp(reports[i].cipher, confs[i].cipher) != 0
            || strcmp(reports[i].server_cipher, confs[i].cipher) != 0
            || reports[i].verify != X509_V_OK) {
            fprintf(stderr,
                    "onion-demo: layer %d: expected %s %s, verified; "
                    "server negotiated %s\n",
                    i, confs[i].version_name, confs[i].cipher,
                    reports[i].server_cipher);
            ok = 0;
        }
    }
    printf("round trip: %d bytes through %d layers and back, SHA-256 ", MSG_LEN,
           DEPTH);
    print_hex(message_sha, sizeof(message_sha));
    if (memcmp(message_sha, server_sha, sizeof(message_sha)) != 0
        || memcmp(message_sha, echo_sha, sizeof(message_sha)) != 0) {
        printf(": MISMATCH (server got ");
        print_hex(server_sha, sizeof(server_sha));
        printf(", echo ");
        print_hex(echo_sha, sizeof(echo_sha));
        printf(")\n");
        ok = 0;
    } else {
        printf(": server and echo match\n");
    }
    for (i = DEPTH - 1; i >= 0; i--)
        printf("pop layer %d: close_notify both ways, depth now %d, "
               "ping ok\n",
               i, reports[i].depth_after_pop);
end:
    for (i = 0; i < DEPTH; i++) {
        SSL_CTX_free(server.ctx[i]);
        SSL_CTX_free(client.ctx[i]);
    }
    printf("%s\n", ok ? "onion-demo: OK" : "onion-demo: FAILED");
    return ok ? 0 : 1;
}
