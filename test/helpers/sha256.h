/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * SHA-256 helpers and deterministic payloads: every byte a test sends is
 * checked end to end by its SHA-256 (and, where the expected bytes are at
 * hand, byte by byte, to name the first offset that differs).
 */

#ifndef ONION_TEST_SHA256_H
#define ONION_TEST_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define SHA256_LEN 32
#define SHA256_HEX_LEN (2 * SHA256_LEN + 1)

/* sha256 hashes |len| bytes at |data| into |out|.  Returns 1, or 0 on error. */
int sha256(const void *data, size_t len, unsigned char out[SHA256_LEN]);

/* sha256_hex writes the lowercase hex form of |digest| into |hex|. */
void sha256_hex(const unsigned char digest[SHA256_LEN],
                char hex[SHA256_HEX_LEN]);

/* SHA256_STREAM hashes data that arrives in pieces. */
typedef struct sha256_stream_st {
    EVP_MD_CTX *ctx;
    uint64_t bytes;
} SHA256_STREAM;

/* sha256_stream_init starts a stream.  Returns 1, or 0 on error. */
int sha256_stream_init(SHA256_STREAM *s);
/* sha256_stream_update adds bytes.  Returns 1, or 0 on error. */
int sha256_stream_update(SHA256_STREAM *s, const void *data, size_t len);
/* sha256_stream_final writes the digest and frees the stream.  Returns 1/0. */
int sha256_stream_final(SHA256_STREAM *s, unsigned char out[SHA256_LEN]);
/* sha256_stream_cleanup frees a stream that was not finalised (NULL-safe). */
void sha256_stream_cleanup(SHA256_STREAM *s);

/*
 * PAYLOAD is a buffer of deterministic pseudo-random bytes with its digest.
 * |data| is owned by the PAYLOAD; payload_free releases it.
 */
typedef struct payload_st {
    unsigned char *data;
    size_t len;
    uint64_t seed;
    unsigned char sha[SHA256_LEN];
} PAYLOAD;

/*
 * payload_init fills |p| with |len| bytes generated from |seed| and their
 * digest.  Returns 1, or 0 on allocation failure (|p| is then empty).
 */
int payload_init(PAYLOAD *p, size_t len, uint64_t seed);

/*
 * payload_init_text is payload_init for printable text: lines of |line_len|
 * characters ending in '\n' (line_len >= 2), for BIO_gets tests.
 */
int payload_init_text(PAYLOAD *p, size_t len, size_t line_len, uint64_t seed);

/* payload_free releases the bytes of |p| (NULL-safe, idempotent). */
void payload_free(PAYLOAD *p);

/*
 * payload_check compares |got| (|len| bytes) with |p| by SHA-256.  On
 * mismatch it writes a description (lengths, both digests, first differing
 * offset) into |why| and returns 0; returns 1 when equal.
 */
int payload_check(const PAYLOAD *p, const void *got, size_t len, char *why,
                  size_t why_len);

#endif /* ONION_TEST_SHA256_H */
