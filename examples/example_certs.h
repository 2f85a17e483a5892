/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

#ifndef EXAMPLE_CERTS_H
#define EXAMPLE_CERTS_H

#include <openssl/ssl.h>

/*
 * example_ctx_pair creates, in memory, a CA and a certificate for |name|
 * signed by it, then a server SSL_CTX that presents that certificate and a
 * client SSL_CTX that trusts only that CA and verifies the server's
 * certificate (the host name is checked per SSL with SSL_set1_host).  Each
 * call makes a new CA, so two pairs do not trust each other.  Returns 1 and
 * sets |*server| and |*client| (the caller frees them with SSL_CTX_free);
 * returns 0 on failure with an OpenSSL error on the queue.
 */
int example_ctx_pair(const char *name, SSL_CTX **server, SSL_CTX **client);

/*
 * example_print_layers prints one line per layer of |onion| to stderr:
 * index, protocol, cipher and the peer certificate's subject, prefixed
 * with |who|.
 */
void example_print_layers(const char *who, BIO *onion);

#endif /* EXAMPLE_CERTS_H */
