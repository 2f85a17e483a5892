/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/* Fixed certificates for the fault-injection test (see fault_certs.c). */

#ifndef ONION_TEST_FAULT_CERTS_H
#define ONION_TEST_FAULT_CERTS_H

#include <openssl/ssl.h>

#define FAULT_CERTS_HOST "layer.test"

/*
 * fault_certs_configure gives |server| the layer.test certificate and key,
 * and makes |client| verify the peer against the CA and the host name.
 * Returns 1, or 0 on failure (error queue set).
 */
int fault_certs_configure(SSL_CTX *client, SSL_CTX *server);

#endif /* ONION_TEST_FAULT_CERTS_H */
