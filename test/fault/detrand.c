/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/* RAND_set_rand_method is deprecated in 3.0, and the only hook short of a
 * provider: see detrand.h for why a test wants it. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <string.h>

#include <openssl/rand.h>

#include "detrand.h"

static uint64_t streams[DETRAND_STREAMS];
static int current;

/* splitmix64: small, fast and good enough for keys nobody must trust. */
static uint64_t next64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int det_bytes(unsigned char *buf, int num)
{
    uint64_t v;
    int i, n;

    for (i = 0; i < num; i += n) {
        v = next64(&streams[current]);
        n = num - i < 8 ? num - i : 8;
        memcpy(buf + i, &v, (size_t)n);
    }
    return 1;
}

static int det_seed(const void *buf, int num)
{
    (void)buf;
    (void)num;
    return 1;
}

static int det_add(const void *buf, int num, double entropy)
{
    (void)buf;
    (void)num;
    (void)entropy;
    return 1;
}

static int det_status(void)
{
    return 1;
}

static RAND_METHOD det_method = { det_seed, det_bytes, NULL,
                                  det_add,  det_bytes, det_status };

int detrand_install(void)
{
    return RAND_set_rand_method(&det_method);
}

void detrand_reset(uint64_t seed)
{
    int i;

    for (i = 0; i < DETRAND_STREAMS; i++)
        streams[i] = seed ^ (0xD1B54A32D192ED03ULL * (uint64_t)(i + 1));
    current = 0;
}

void detrand_select(int stream)
{
    if (stream >= 0 && stream < DETRAND_STREAMS)
        current = stream;
}
