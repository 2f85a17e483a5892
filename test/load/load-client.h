/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * load-client's connections (load-conn.c): the state machine of one client,
 * well-behaved or hostile, and the state shared with the poll loop and the
 * rounds (load-client.c).
 */

#ifndef ONION_TEST_LOAD_CLIENT_H
#define ONION_TEST_LOAD_CLIENT_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#define LC_MAX_DEPTH 4
#define LC_BUF 16384

enum lc_kind { K_GOOD, K_GARBAGE, K_STALL, K_DROP };

enum lc_state {
    S_CONNECT,   /* non-blocking connect in progress */
    S_SETUP,     /* push and handshake the initial layers */
    S_STEP,      /* pick the next step of the script */
    S_SEND,      /* send a chunk of lines */
    S_ECHO,      /* read its echo */
    S_CTL,       /* send a control line */
    S_POP,       /* pop after STOPTLS */
    S_HANDSHAKE, /* handshake after STARTTLS */
    S_HOLD,      /* script done: wait for the others */
    S_CLOSE,     /* pop everything, then close */
    S_DRAIN,     /* read until the server closes */
    S_GARBAGE,   /* hostile: send garbage, wait for the close */
    S_STALL,     /* hostile: silent until the end of the round */
    S_DONE
};

typedef struct lc_conn_st {
    int id;
    enum lc_kind kind;
    enum lc_state state;
    int fd;
    BIO *sock;
    BIO *onion;
    uint64_t rng;
    int depth;      /* layers the client holds */
    int setup;      /* layers to push at the start */
    int steps;      /* script steps left */
    int hostile_at; /* hostile: layers to set up first */
    int ctl;        /* 'S' (STARTTLS) or 'P' (STOPTLS) being sent */
    int closing;    /* popping all layers at the end */
    unsigned char *out;
    size_t out_len, out_off;
    size_t echo_off;
    size_t sent_total, echoed_total;
    EVP_MD_CTX *sha_sent, *sha_echo;
    int failed;
    char why[256];
    time_t since; /* entered the current state */
    short want;
    int ready;       /* poll said its socket is ready */
    int established; /* all its initial layers came up */
    int counted;     /* counted out of the round's well-behaved clients */
    int drop_hs;     /* drop: reset in the middle of a handshake */
} LC_CONN;

typedef struct lc_st {
    const char *host;
    int port;
    int clients;
    int hostile_pct;
    int rounds;
    int server_pid;
    int hold_secs;
    long rss_tolerance_kb;
    uint64_t seed;
    SSL_CTX *ctx;
    const char *servername;
    int initial_depth;
    LC_CONN *conns;
    int good_left; /* well-behaved clients of the round not done yet */
    int open_now, open_peak, established_now, established_peak;
    int good_ok, good_failed, hostile_done;
    unsigned long long bytes_echoed;
    unsigned long pushes, pops;
} LC;

extern const char *const lc_state_names[];

/* conn_free closes |c|'s connection and frees what it holds. */
void conn_free(LC *lc, LC_CONN *c);
/* good_done counts a well-behaved client out of the round, once. */
void good_done(LC *lc, LC_CONN *c);
/* init_conn draws client |id|'s kind and script for |round|. */
void init_conn(LC *lc, LC_CONN *c, int id, int round);
/* start_conn starts a non-blocking connect.  Returns 1, or 0 (failed). */
int start_conn(LC *lc, LC_CONN *c);
/* step advances |c| once.  Returns 1 on progress, 0 when it must wait. */
int step(LC *lc, LC_CONN *c);

#endif /* ONION_TEST_LOAD_CLIENT_H */
