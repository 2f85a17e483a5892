/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * The gather BIO: a filter that holds everything written to it until
 * BIO_flush, then passes it on in one BIO_write, so that several writes
 * (a STARTTLS line and a ClientHello, several inner TLS records) reach the
 * next BIO (the wire, or an outer TLS layer: one record) together.  Reads
 * pass straight through, unbuffered, unlike BIO_f_buffer, which also
 * buffers reads.
 */

#ifndef ONION_TEST_GATHERBIO_H
#define ONION_TEST_GATHERBIO_H

#include <openssl/bio.h>

/* gather_bio_new returns a new gather BIO owned by the caller, or NULL. */
BIO *gather_bio_new(void);

/* gather_bio_flushes returns how many flushes passed data on. */
unsigned long gather_bio_flushes(BIO *b);

#endif /* ONION_TEST_GATHERBIO_H */
