/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * A single-threaded pump for non-blocking tests.  Two sides, each a chain
 * (usually onion -> fault BIO -> transport) over a BIO pair or a
 * non-blocking socketpair, each running a script of operations.  The pump
 * steps them alternately, one BIO call per step, until both scripts end.
 * A call that wants a retry yields to the other side.  When neither side
 * makes progress (no operation finished, no byte moved at either
 * transport) for too many rounds, the pump fails with a deadlock report
 * instead of hanging.
 */

#ifndef ONION_TEST_PUMP_H
#define ONION_TEST_PUMP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "sha256.h"
#include "testutil.h"

typedef struct pump_side_st PUMP_SIDE;

typedef enum pump_op_type_en {
    PUMP_PUSH,        /* BIO_onion_push_tls(ctx, client) */
    PUMP_HANDSHAKE,   /* BIO_do_handshake until 1 */
    PUMP_WRITE,       /* write |out| */
    PUMP_READ,        /* read |in|->len bytes, compare with |in| */
    PUMP_XFER,        /* write |out| and read |in| at the same time */
    PUMP_FLUSH,       /* BIO_flush until 1 */
    PUMP_POP,         /* BIO_onion_pop until 1; |in| (may be NULL): data
                         the peer still sends, read when pop asks for it */
    PUMP_READ_CLOSED, /* read returns 0 with BIO_onion_peer_closed == 1 */
    PUMP_DEPTH,       /* BIO_onion_get_depth == |depth| */
    PUMP_CALL,        /* |call|(side, arg): 1 done, 0 retry later, -1 fail */
    PUMP_END
} PUMP_OP_TYPE;

/* |chunk| values besides a byte count. */
#define PUMP_CHUNK_DEFAULT 0           /* up to 16 KiB per call */
#define PUMP_CHUNK_RANDOM ((size_t)-1) /* random sizes, many small */

typedef struct pump_op_st {
    PUMP_OP_TYPE type;
    SSL_CTX *ctx;
    int client;
    const PAYLOAD *out;
    const PAYLOAD *in;
    size_t chunk;
    int depth;
    int (*call)(PUMP_SIDE *s, void *arg);
    void *arg;
} PUMP_OP;

struct pump_side_st {
    const char *name;
    BIO *bio;       /* the chain top the script works on */
    BIO *transport; /* the bottom BIO, watched for progress */
    const PUMP_OP *ops;
    size_t nops;
    uint64_t rng;
    /* progress through the script */
    size_t pc;
    size_t woff, roff, wpend;
    int started, depth0, draining;
    int done;
    unsigned long calls, retries;
    SHA256_STREAM sha;
    unsigned char *buf;
    TFAIL fail;
};

/*
 * pump_side_init prepares |s| to run |nops| operations of |ops| on |bio|
 * (borrowed; the caller frees the chain) with |transport| its bottom BIO.
 * |seed| drives random chunk sizes.  Returns 1 or 0.
 */
int pump_side_init(PUMP_SIDE *s, const char *name, BIO *bio, BIO *transport,
                   const PUMP_OP *ops, size_t nops, uint64_t seed);

/* pump_side_cleanup frees what pump_side_init allocated (not the chain). */
void pump_side_cleanup(PUMP_SIDE *s);

/*
 * pump_run steps |a| and |b| until both scripts end (returns 1), one fails,
 * or no progress is made for |max_idle| rounds or more than |max_rounds|
 * rounds pass (returns 0; the reason is in |f|, each side's in its own
 * |fail|).  0 for a limit means the default (2000 idle, 20 million).
 */
int pump_run(PUMP_SIDE *a, PUMP_SIDE *b, unsigned long max_idle,
             unsigned long max_rounds, TFAIL *f);

/*
 * pump_report writes the pump's and both sides' failures into |buf|, the
 * first one first.  Returns |buf|.
 */
char *pump_report(const TFAIL *f, const PUMP_SIDE *a, const PUMP_SIDE *b,
                  char *buf, size_t len);

/*
 * pump_pair_new creates a BIO pair with |size| bytes of buffer in each
 * direction (0: OpenSSL's default).  Returns 1 or 0.
 */
int pump_pair_new(BIO **a, BIO **b, size_t size);

/*
 * pump_socketpair_new creates a non-blocking AF_UNIX socketpair wrapped in
 * two socket BIOs that close their fd when freed.  Returns 1 or 0.
 */
int pump_socketpair_new(BIO **a, BIO **b);

#endif /* ONION_TEST_PUMP_H */
