/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * The recording BIO: a transparent filter that parses the TLS records
 * passing through it, in each direction, and logs their content type and
 * length, for comparing what two configurations put on the wire.  It also
 * counts the ctrl commands it receives, to prove that some never reach the
 * transport (kernel TLS ctrls from inner layers, for example).
 */

#ifndef ONION_TEST_RECBIO_H
#define ONION_TEST_RECBIO_H

#include <stddef.h>

#include <openssl/bio.h>

#define RECBIO_WRITE 0
#define RECBIO_READ 1

typedef struct recbio_record_st {
    unsigned char type; /* content type: 22 handshake, 23 data, ... */
    unsigned int len;   /* length field of the record header */
} RECBIO_RECORD;

/* RECBIO_LOG is a copy of one direction's log, owned by the caller. */
typedef struct recbio_log_st {
    RECBIO_RECORD *rec;
    size_t n;
} RECBIO_LOG;

/* recbio_new returns a new recording BIO owned by the caller, or NULL. */
BIO *recbio_new(void);

/*
 * recbio_reset forgets the records logged so far in both directions (and
 * the ctrl counts); the parsers keep their place in the byte stream.
 * Returns 1, or 0 without changing anything if either direction is in the
 * middle of a record (the next log would not start at a record boundary).
 */
int recbio_reset(BIO *b);

/* recbio_count returns the number of records logged in |dir|. */
size_t recbio_count(BIO *b, int dir);

/* recbio_bytes returns the number of bytes passed in |dir| since reset. */
unsigned long long recbio_bytes(BIO *b, int dir);

/* recbio_get copies record |i| of |dir| into |r|.  Returns 1 or 0. */
int recbio_get(BIO *b, int dir, size_t i, RECBIO_RECORD *r);

/*
 * recbio_copy_log copies the log of |dir| into |log| (free it with
 * recbio_log_free).  Returns 1, or 0 on allocation failure.
 */
int recbio_copy_log(BIO *b, int dir, RECBIO_LOG *log);
void recbio_log_free(RECBIO_LOG *log);

/*
 * recbio_log_compare returns 1 when |a| and |b| hold the same records;
 * otherwise writes where they first differ into |why| and returns 0.
 */
int recbio_log_compare(const RECBIO_LOG *a, const RECBIO_LOG *b, char *why,
                       size_t len);

/* recbio_log_format writes "type:len ..." (truncated to |len|) into |buf|. */
void recbio_log_format(const RECBIO_LOG *log, char *buf, size_t len);

/* recbio_ctrl_count returns how many times ctrl |cmd| reached |b|. */
unsigned long recbio_ctrl_count(BIO *b, int cmd);

#endif /* ONION_TEST_RECBIO_H */
