/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * Private to the fault-injection test: the state of a run shared by the
 * pump (fault_world.c) and the two sides (fault_side.c).
 */

#ifndef ONION_TEST_FAULT_SIDE_H
#define ONION_TEST_FAULT_SIDE_H

#include <openssl/bio.h>

#include "fault_world.h"

/* The world of one run. */

typedef struct fw_world_st FW_WORLD;
typedef struct fw_side_st FW_SIDE;

typedef struct fw_evarg_st {
    FW_SIDE *s;
    int hi;
} FW_EVARG;

struct fw_side_st {
    int id;
    const char *name;
    FW_WORLD *w;
    BIO *pair, *ftr, *ttr, *lo, *fmid, *tmid, *hi, *top;
    int split;
    int depth_lo, depth_hi;
    int hs_done[FW_MAX_DEPTH];
    FW_EVARG ev[2];
    const unsigned char *out;
    size_t woff, wunit;
    size_t parsed;
    int saw_starttls;
    unsigned char *leftover;
    size_t nleftover;
    int sub, done, dead, closed;
    uint64_t wrng, rrng;
    unsigned long steps;
    unsigned char *buf;
    size_t rxcap;
    FW_SIDE_RESULT *res;
};

struct fw_world_st {
    const FW_SCENARIO *sc;
    const FW_FAULTS *f;
    FW_SIDE s[2];
    FW_RUN *r;
    int record;
    int order;
    int phase;
    size_t snapcap;
};

/* fw_cfg_ctx returns the client (|server| 0) or server context of |cfg|. */
SSL_CTX *fw_cfg_ctx(int cfg, int server);

/* fault_side.c */
void collect(FW_SIDE *s);
void on_event(BIO *b, int event, int layer, void *arg);
int global_depth(FW_SIDE *s);
int global_error(FW_SIDE *s);
void describe_state(FW_SIDE *s, const char *what, int ret);
void side_close(FW_SIDE *s);
void side_stop(FW_SIDE *s, int outcome, const char *what, int ret);
int side_read(FW_SIDE *s);
int side_retry_write(FW_SIDE *s);
int side_pop(FW_SIDE *s, int level);
int side_step(FW_SIDE *s);

#endif /* ONION_TEST_FAULT_SIDE_H */
