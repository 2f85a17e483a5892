/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * The fault world: two sides, a client and a server, each a chain of onion
 * BIOs over a fault BIO over one end of a BIO pair, run in one thread by a
 * pump through a scenario of phases (exchange data, push a layer, pop a
 * layer).  A side may split its layers over two onions with a fault BIO
 * between them, so that the stream of an inner layer can be cut or
 * corrupted while the layers outside it stay healthy:
 *
 *     application
 *        |
 *     hi onion   (layers split .. depth-1), absent when split is 0
 *     tap, fault (the level-"split" stream)
 *     lo onion   (layers 0 .. split-1)
 *     tap, fault (the transport, level 0)
 *     BIO pair
 *
 * The client's stream is framed: 'D' frames of data and 'S' frames that
 * announce a push (STARTTLS); the server's stream is raw bytes.  Both are
 * generated from the scenario seed, and every byte a side reads is checked
 * against what its peer sent.
 */

#ifndef ONION_TEST_FAULT_WORLD_H
#define ONION_TEST_FAULT_WORLD_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "faultbio.h"

#define FW_MAX_DEPTH 3
#define FW_MAX_PHASES 32
#define FW_CLIENT 0
#define FW_SERVER 1

/* Frame types of the client's stream. */
#define FW_FRAME_DATA 'D'
#define FW_FRAME_STARTTLS 'S'
#define FW_FRAME_HDR 3

typedef enum fw_phase_kind_en { FW_DATA, FW_PUSH, FW_POP } FW_PHASE_KIND;

typedef struct fw_phase_st {
    FW_PHASE_KIND kind;
    int level;         /* PUSH: the new layer; POP: the popped one */
    int inband;        /* PUSH: announced by an 'S' frame */
    int explicit_hs;   /* PUSH: both sides call BIO_do_handshake */
    int initiator;     /* POP: FW_CLIENT, FW_SERVER or 2 for both */
    size_t out_end[2]; /* each side's stream offset at the end */
} FW_PHASE;

typedef struct fw_scenario_st {
    uint64_t seed;
    int nphases;
    FW_PHASE ph[FW_MAX_PHASES];
    int cfg[FW_MAX_DEPTH]; /* TLS configuration of each level */
    int split[2];          /* per side: 0, or the level of hi's layer 0 */
    unsigned int flags[2]; /* BIO_onion_set_flags of each side's onions */
    size_t pair_size;      /* BIO pair buffer, each way */
    size_t max_write;      /* largest application write */
    size_t max_read;       /* largest application read */
    int max_depth;         /* deepest the scenario goes */
    int final_pops;        /* every layer is popped at the end */
    unsigned char *out[2]; /* each side's whole stream */
    size_t outlen[2];
} FW_SCENARIO;

typedef struct fw_faults_st {
    FAULT_CONFIG tr[2];  /* transport fault BIO of each side */
    FAULT_CONFIG mid[2]; /* fault BIO between lo and hi of each side */
} FW_FAULTS;

/* How a side's run ended. */
#define FW_OUT_COMPLETED 1 /* every phase ran */
#define FW_OUT_FAILED 2    /* a call failed without retry */
#define FW_OUT_ENDED 3     /* EOF at depth 0 (a plain stream ended) */
#define FW_OUT_STUCK 4     /* none of these: the side waits forever */

typedef struct fw_side_result_st {
    int outcome;
    int fail_order;     /* 1 for the first side to fail or end, 2 next */
    int err_layer;      /* global: BIO_ONION_ERROR_* or a layer index */
    int err_lo, err_hi; /* BIO_onion_get_error_layer of each onion */
    int depth_at_end;   /* global depth when the side stopped */
    int onion_errors;   /* errors of the bio_onion library raised */
    char first_onion_error[512];
    int ev_hs, ev_popped, ev_failed, ev_failed_mismatch;
    int pushes, pops;
    unsigned char *rx; /* the bytes received, owned by the run */
    size_t rxlen;
    int phase;           /* phase reached */
    char violation[512]; /* a broken rule seen while running, or "" */
    char errlog[2048];   /* the side's error queue, as it came */
    char state[256];     /* where it stopped */
} FW_SIDE_RESULT;

/* One point in time of a recorded run: transport and split offsets. */
typedef struct fw_snap_st {
    int phase;
    int label;           /* FW_LABEL_* */
    size_t off[2][2][2]; /* [side][tap: 0 transport, 1 split][dir] */
} FW_SNAP;

#define FW_LABEL_DATA 0
#define FW_LABEL_PUSH_PRE 1  /* a push, handshake not started */
#define FW_LABEL_PUSH_HS 2   /* a push, handshake running */
#define FW_LABEL_PUSH_POST 3 /* a push, handshake done */
#define FW_LABEL_LEFTOVER 4  /* an in-band push over a plain stream */
#define FW_LABEL_POP 5
#define FW_LABEL_END 6 /* after the last phase */
#define FW_NLABELS 7

/* A recorded tap: the bytes and armed flags of one direction. */
typedef struct fw_tape_st {
    unsigned char *data;
    unsigned char *armed;
    size_t len;
} FW_TAPE;

typedef struct fw_run_st {
    FW_SIDE_RESULT side[2];
    int completed;     /* both sides ran every phase */
    int stalled;       /* the pump saw no progress before the end */
    char harness[512]; /* the test itself failed (allocation...) */
    char stall[1024];  /* where each side was when the pump stalled */
    FAULT_STATS tr_stats[2], mid_stats[2];
    /* Filled when recording. */
    FW_SNAP *snaps;
    size_t nsnaps;
    FW_TAPE tape[2][2][2]; /* [side][tap][dir] */
} FW_RUN;

/* Process-wide set-up: certificates and the TLS contexts.  Returns 1/0. */
int fw_init(void);
void fw_cleanup(void);
int fw_ncfg(void);
const char *fw_cfg_name(int cfg);

/* fw_grow grows |*buf| (capacity |*cap|) to |need| bytes.  Returns 1/0. */
int fw_grow(unsigned char **buf, size_t *cap, size_t need);

/* fault_scenario.c: fw_scenario_make generates a scenario from |seed|. */
int fw_scenario_make(FW_SCENARIO *sc, uint64_t seed, int final_pops);
void fw_scenario_free(FW_SCENARIO *sc);
void fw_scenario_describe(const FW_SCENARIO *sc, char *buf, size_t len);

/* fw_faults_none sets |f| to no faults. */
void fw_faults_none(FW_FAULTS *f, uint64_t seed);

/*
 * fw_run runs |sc| under |f|, with the random source reset to |rng_seed|.
 * With |record| it keeps the snapshots and the taps.  Returns 1 when the
 * run could be carried out (whatever its outcome), 0 when the harness
 * itself failed (|r->harness| says why).
 */
int fw_run(const FW_SCENARIO *sc, const FW_FAULTS *f, uint64_t rng_seed,
           int record, FW_RUN *r);
void fw_run_free(FW_RUN *r);

/*
 * fw_check_prefix checks that the |len| bytes a side received are a prefix
 * of what the peer sent.  Returns 1, or 0 with the first bad offset in
 * |why|.
 */
int fw_check_prefix(const FW_SCENARIO *sc, int side, const FW_RUN *r, char *why,
                    size_t len);

#endif /* ONION_TEST_FAULT_WORLD_H */
