/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * In-process peers over a blocking AF_UNIX socketpair, one thread per side.
 * Each side gets its fd wrapped in BIO_new_socket (BIO_NOCLOSE) and, unless
 * asked for a raw side, an onion BIO of depth 0 on top; then the caller's
 * function runs in that side's thread.  A function reports failures with
 * PEER_CHECK / tfail_set into its PEER (never CUnit: CUnit is not
 * thread-safe); the runner joins both threads and returns both results.
 *
 * So that a failure never hangs the other side: a side that fails shuts
 * its socket down both ways at once; a side that succeeds shuts down its
 * write direction (the peer sees EOF if it still waits); and both sockets
 * have send/receive timeouts (test_timeout_seconds) as a watchdog, which
 * blocking reads report as a failure.
 */

#ifndef ONION_TEST_PEERS_H
#define ONION_TEST_PEERS_H

#include <stddef.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "sha256.h"
#include "testutil.h"

typedef struct peer_st PEER;
typedef struct peers_shared_st PEERS_SHARED;

/* PEER_FN runs one side; returns 1 on success, 0 on failure. */
typedef int (*PEER_FN)(PEER *p);

struct peer_st {
    const char *name; /* "client" or "server" */
    int is_client;
    int fd;     /* this side's end of the socketpair */
    BIO *sock;  /* BIO_new_socket(fd, BIO_NOCLOSE) */
    BIO *onion; /* onion on sock, or NULL for a raw side */
    BIO *top;   /* top of the chain, freed with BIO_free_all */
    void *arg;  /* the caller's argument */
    TFAIL fail;
    int result;
    PEERS_SHARED *shared; /* rendezvous state, see peer_sync */
    int idx;              /* 0 client, 1 server */
};

/* Sides created without an onion (the function builds its own chain). */
#define PEERS_CLIENT_RAW 0x1
#define PEERS_SERVER_RAW 0x2

/*
 * peers_run runs |cfn| and |sfn| on the two ends of a socketpair and waits
 * for both.  |client| and |server| receive the results (their |fail| holds
 * the messages).  The runner frees each side's |top| chain (which a
 * function may replace, e.g. with a BIO_f_buffer on top) after the
 * function returns, and closes both fds.  Returns 1 when both succeeded.
 */
int peers_run(PEER_FN cfn, void *carg, PEER_FN sfn, void *sarg, int flags,
              PEER *client, PEER *server);

/*
 * peers_report writes both sides' failures, the first one first, into
 * |buf|.  Returns |buf|.
 */
char *peers_report(const PEER *client, const PEER *server, char *buf,
                   size_t len);

/* PEER_CHECK is TFAIL_CHECK on the peer's failure record. */
#define PEER_CHECK(p, cond, ...) TFAIL_CHECK(&(p)->fail, cond, __VA_ARGS__)

/*
 * peer_sync is a rendezvous: it returns 1 once the other side has called
 * peer_sync as many times as this side.  It returns 0 (recording why) if
 * the other side's function ended first or the watchdog timeout expired,
 * so a failure on one side never leaves the other waiting forever.
 */
int peer_sync(PEER *p);

/*
 * Blocking I/O on |b| (any chain top).  Each returns 1 on success; on
 * failure it records what happened (return value, retry flags, onion error
 * layer, depth, error queue) in |p| and returns 0.  A retry on a blocking
 * transport is a failure: it means the watchdog timeout expired.
 */
int peer_write_all(PEER *p, BIO *b, const void *buf, size_t len, size_t chunk);
int peer_read_exact(PEER *p, BIO *b, void *buf, size_t len, size_t chunk);
int peer_flush(PEER *p, BIO *b);

/* peer_send sends |pl|; peer_recv reads |pl->len| bytes and checks them. */
int peer_send(PEER *p, BIO *b, const PAYLOAD *pl, size_t chunk);
int peer_recv(PEER *p, BIO *b, const PAYLOAD *pl, size_t chunk);

/*
 * peer_push pushes a layer made from |ctx| (client if |client|) onto the
 * onion reached through |b| and checks the depth grew by one.
 */
int peer_push(PEER *p, BIO *b, SSL_CTX *ctx, int client);

/* peer_handshake runs BIO_do_handshake on |b| until it returns 1. */
int peer_handshake(PEER *p, BIO *b);

/* peer_push_handshake is peer_push then peer_handshake. */
int peer_push_handshake(PEER *p, BIO *b, SSL_CTX *ctx, int client);

/*
 * peer_pop pops the innermost layer with BIO_onion_pop and checks the depth
 * went down by one.
 */
int peer_pop(PEER *p, BIO *b);

/*
 * peer_expect_closed reads from |b| and expects 0 with
 * BIO_onion_peer_closed == 1 (the peer closed the innermost layer).
 */
int peer_expect_closed(PEER *p, BIO *b);

/*
 * peer_io_state describes |b| after a failed call: the return value, retry
 * flags, onion depth and error layer.
 */
void peer_io_state(BIO *b, int ret, char *buf, size_t len);

#endif /* ONION_TEST_PEERS_H */
