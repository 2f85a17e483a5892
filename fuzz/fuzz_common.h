/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * Shared by the libFuzzer targets: a fixed server key and certificate (so
 * that the bytes of a handshake do not change from one day to the next),
 * the TLS contexts, the deterministic random source, and the checks whose
 * failure aborts the run (libFuzzer then keeps the input as a crash).
 *
 * With the random source seeded the same way, the server answers a given
 * input with the same bytes every time.  A recorded client stream (the
 * seed corpus) is therefore replayed in full, handshakes included, and the
 * fuzzer can mutate inner layers behind valid outer ones.
 */

#ifndef ONION_FUZZ_COMMON_H
#define ONION_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

/* TLS configurations a layer may use. */
#define FZ_NCFG 4

/* The random streams of each actor (detrand streams). */
#define FZ_RNG_SERVER 0
#define FZ_RNG_CLIENT 1
#define FZ_RNG_INNER 2

/* Set-up once per process.  Aborts on failure. */
void fz_init(void);

/* A server context (no session cache, no tickets) and a client context. */
SSL_CTX *fz_server_ctx(int cfg);
SSL_CTX *fz_client_ctx(int cfg);

/* Restarts the random streams: call at the start of every input. */
void fz_rng_reset(void);
void fz_rng_select(int stream);

/* FZ_CHECK aborts with a message when |cond| is false. */
#define FZ_CHECK(cond, ...)                                                    \
    ((cond) ? (void)0 : fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__))
void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));

/*
 * fz_onion_error_take empties the error queue and returns 1 when it held
 * an error of the bio_onion library.
 */
int fz_onion_error_take(void);

/*
 * fz_check_onion checks what must always hold of an onion that was given
 * |max_depth| layers at most: depth and error layer in range.
 */
void fz_check_onion(BIO *b, int max_depth);

/*
 * fz_write_file writes |len| bytes to DIR/NAME (for corpus generation).
 * Returns 1 or 0.
 */
int fz_write_file(const char *dir, const char *name, const unsigned char *data,
                  size_t len);

#endif /* ONION_FUZZ_COMMON_H */
