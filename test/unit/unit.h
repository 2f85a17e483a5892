/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * CUnit glue of the unit suite: checks with messages, the suite
 * registration functions, and shortcuts for the helpers.
 */

#ifndef ONION_UNIT_H
#define ONION_UNIT_H

#include <CUnit/CUnit.h>

#include "bio_onion.h"
#include "certs.h"
#include "faultbio.h"
#include "gatherbio.h"
#include "peers.h"
#include "pump.h"
#include "recbio.h"
#include "sha256.h"
#include "testutil.h"

/*
 * CHECK records a CUnit assertion for |cond|; on failure its message (and
 * the thread's OpenSSL error queue) is printed and stored with the failure.
 * Yields 1 when |cond| holds, 0 otherwise:
 * "if (!CHECK(r == 1, "push returned %d", r)) goto end;".
 */
#define CHECK(cond, ...)                                                       \
    unit_check(!!(cond), #cond, __FILE__, __LINE__, __VA_ARGS__)

int unit_check(int ok, const char *cond, const char *file, int line,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * RUN_PEERS runs two peer functions (peers_run) and checks that both
 * succeeded, reporting their failures.
 */
#define RUN_PEERS(cfn, carg, sfn, sarg, flags)                                 \
    unit_run_peers((cfn), (carg), (sfn), (sarg), (flags), __FILE__, __LINE__)

int unit_run_peers(PEER_FN cfn, void *carg, PEER_FN sfn, void *sarg, int flags,
                   const char *file, int line);

/* RUN_PUMP runs pump_run on two sides and checks the result. */
#define RUN_PUMP(a, b, seed) unit_run_pump((a), (b), (seed), __FILE__, __LINE__)

int unit_run_pump(PUMP_SIDE *a, PUMP_SIDE *b, uint64_t seed, const char *file,
                  int line);

/* UNIT_CTXS holds a client and a server SSL_CTX per layer. */
#define UNIT_MAX_LAYERS 8
typedef struct unit_ctxs_st {
    SSL_CTX *client[UNIT_MAX_LAYERS];
    SSL_CTX *server[UNIT_MAX_LAYERS];
    int n;
} UNIT_CTXS;

/*
 * unit_layer_opts holds four different layers: TLS 1.3 AES-128-GCM,
 * TLS 1.2 ECDHE-ECDSA-AES256-GCM, TLS 1.3 ChaCha20-Poly1305 and TLS 1.2
 * ECDHE-ECDSA-AES128-SHA256 (CBC), each with its own host name and leaf.
 */
extern const CERTS_TLS_OPTS unit_layer_opts[4];

/*
 * unit_ctxs_new creates contexts for |n| layers from |opts| (NULL: layer i
 * uses unit_layer_opts[i % 4]).  Returns 1, or 0 after a CUnit failure.
 */
int unit_ctxs_new(UNIT_CTXS *c, const CERTS_TLS_OPTS *opts, int n);
void unit_ctxs_free(UNIT_CTXS *c);

/*
 * unit_pair_onions creates two onions over a BIO pair (|*c| client, |*s|
 * server; each owns its pair end, free with BIO_free_all) and runs |depth|
 * pushes and handshakes on both with the pump.  Returns 1, or 0 after a
 * CUnit failure (nothing allocated then).
 */
int unit_pair_onions(BIO **c, BIO **s, const UNIT_CTXS *ctxs, int depth);

/*
 * unit_expect_onion_error checks that the error queue holds a bio_onion
 * error with |reason| and empties the queue.  Returns 1 or 0.
 */
#define EXPECT_ONION_ERROR(reason, what)                                       \
    unit_expect_onion_error((reason), #reason, (what), __FILE__, __LINE__)

int unit_expect_onion_error(int reason, const char *rname, const char *what,
                            const char *file, int line);

/* Suite registration, one per test file. */
int register_layers_suite(void);
int register_push_suite(void);
int register_pop_suite(void);
int register_nonblocking_suite(void);
int register_chain_suite(void);
int register_errors_suite(void);
int register_misuse_suite(void);
int register_pending_suite(void);
int register_passthrough_suite(void);
int register_events_suite(void);
int register_helpers_suite(void);

/* unit_suite_init and unit_suite_cleanup: shared suite fixtures. */
int unit_suite_init(void);
int unit_suite_cleanup(void);

#endif /* ONION_UNIT_H */
