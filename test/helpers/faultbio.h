/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * The fault BIO: a filter placed under the BIO under test (usually between
 * an onion and its transport) that injects, driven by a seed so that a run
 * can be replayed:
 *   - retries: with the given per-mille chance a read or write returns -1
 *     with BIO_set_retry_read/write set, without calling the next BIO;
 *   - short I/O: each call moves one byte, or a random number of bytes;
 *   - a cut-off: after N bytes have been read (written), the transport
 *     "closes": reads return 0 (EOF), writes fail without retry;
 *   - corruption: the byte at read (write) offset N is XORed with a mask.
 * It counts calls and bytes.  ONION_TEST_SEED overrides seeds chosen by
 * tests (see test_seed), and every failure message prints the seed.
 */

#ifndef ONION_TEST_FAULTBIO_H
#define ONION_TEST_FAULTBIO_H

#include <stdint.h>

#include <openssl/bio.h>

/* Short I/O modes. */
#define FAULT_SHORT_NONE 0
#define FAULT_SHORT_ONE 1    /* every call moves at most one byte */
#define FAULT_SHORT_RANDOM 2 /* every call moves 1..len bytes */

/* "No cut-off" / "no corruption". */
#define FAULT_OFF (-1L)

typedef struct fault_config_st {
    uint64_t seed;
    unsigned int read_retry_permille;
    unsigned int write_retry_permille;
    int short_read;
    int short_write;
    long read_cutoff;   /* bytes after which reads return EOF, or FAULT_OFF */
    long write_cutoff;  /* bytes after which writes fail, or FAULT_OFF */
    long read_corrupt;  /* read offset to corrupt, or FAULT_OFF */
    long write_corrupt; /* write offset to corrupt, or FAULT_OFF */
    unsigned char corrupt_mask; /* XOR mask for corruption (0 means 0xFF) */
} FAULT_CONFIG;

typedef struct fault_stats_st {
    unsigned long read_calls;
    unsigned long write_calls;
    unsigned long read_retries;  /* injected */
    unsigned long write_retries; /* injected */
    unsigned long long bytes_read;
    unsigned long long bytes_written;
    int corrupted_read;
    int corrupted_write;
} FAULT_STATS;

/* fault_config_default sets |c| to "no faults" with |seed|. */
void fault_config_default(FAULT_CONFIG *c, uint64_t seed);

/* fault_bio_method returns the method (created once, thread-safe). */
const BIO_METHOD *fault_bio_method(void);

/*
 * fault_bio_new returns a new fault BIO configured by |c| (copied), owned
 * by the caller, or NULL.  Push it on the transport: BIO_push(f, transport).
 */
BIO *fault_bio_new(const FAULT_CONFIG *c);

/* fault_bio_stats copies the counters of |b| into |st|.  Returns 1 or 0. */
int fault_bio_stats(BIO *b, FAULT_STATS *st);

/*
 * fault_bio_set_enabled turns fault injection on or off (counting goes
 * on); a test can do a clean handshake first, then inject faults.
 */
int fault_bio_set_enabled(BIO *b, int on);

/*
 * fault_bio_set_offsets replaces the cut-offs and corruption offsets of |b|
 * (absolute byte counts since its creation; FAULT_OFF turns one off), so a
 * test can aim at the first record after a handshake: read the counters
 * with fault_bio_stats, then set offsets beyond them.  Returns 1 or 0.
 */
int fault_bio_set_offsets(BIO *b, long read_cutoff, long write_cutoff,
                          long read_corrupt, long write_corrupt);

/* fault_bio_seed returns the seed |b| was created with. */
uint64_t fault_bio_seed(BIO *b);

#endif /* ONION_TEST_FAULTBIO_H */
