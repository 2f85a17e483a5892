/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * detrand: a deterministic random source for fault-injection runs and
 * fuzzers.  Every TLS handshake draws random bytes (hello randoms, key
 * shares, signature nonces, IVs); with this source installed they come
 * from one seeded stream per actor, so that a run is replayed byte for byte
 * from its seed, and a run with retries and short reads puts the same
 * records on the wire as a run without them (the pump interleaves the two
 * sides differently, but each side draws from its own stream).
 *
 * It is a RAND_METHOD, the only way OpenSSL 3.0 lets a program replace the
 * generator without writing a provider.  Never use it outside tests.
 */

#ifndef ONION_TEST_DETRAND_H
#define ONION_TEST_DETRAND_H

#include <stdint.h>

#define DETRAND_STREAMS 4

/*
 * detrand_install makes OpenSSL draw every random byte from the streams.
 * Returns 1 on success, 0 on failure.
 */
int detrand_install(void);

/* detrand_reset restarts every stream from |seed| (stream i from seed, i). */
void detrand_reset(uint64_t seed);

/* detrand_select makes |stream| (0 .. DETRAND_STREAMS-1) the current one. */
void detrand_select(int stream);

#endif /* ONION_TEST_DETRAND_H */
