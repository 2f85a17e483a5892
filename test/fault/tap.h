/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * The tap BIO: a transparent filter that keeps a copy of every byte that
 * passes it, in each direction, and marks the bytes that passed while the
 * test had it "armed" (while a TLS layer lived at that point of the chain).
 * The fault-injection test taps a clean run to learn where the records of
 * each layer lie, then corrupts a byte of one of them in the faulty run.
 */

#ifndef ONION_TEST_TAP_H
#define ONION_TEST_TAP_H

#include <stddef.h>

#include <openssl/bio.h>

#define TAP_WRITE 0
#define TAP_READ 1

/* tap_new returns a new tap BIO owned by the caller, or NULL. */
BIO *tap_new(void);

/* tap_set_armed marks (|on| 1) or stops marking the bytes of |dir|. */
void tap_set_armed(BIO *b, int dir, int on);

/*
 * tap_arm_back marks the last |n| bytes already passed in |dir| too (the
 * leftover bytes a push hands to the new layer were read before the push).
 */
void tap_arm_back(BIO *b, int dir, size_t n);

/*
 * tap_reset makes the connection below look reset from now on: reads
 * return 0 (end of file) and writes fail without retry, as on a socket
 * whose peer is gone.  The test uses it when a side would otherwise wait
 * forever for a peer that stopped.
 */
void tap_reset(BIO *b);

/* tap_len returns the bytes passed in |dir|. */
size_t tap_len(BIO *b, int dir);

/*
 * tap_data returns the bytes passed in |dir| and, in |*armed| when not
 * NULL, one flag per byte (1: passed while armed).  Borrowed: valid until
 * the next I/O on |b| or its free.
 */
const unsigned char *tap_data(BIO *b, int dir, const unsigned char **armed);

#endif /* ONION_TEST_TAP_H */
