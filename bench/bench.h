/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * Private header of onion-bench: the measuring harness shared by its source
 * files.  Nothing here is part of the bio_onion API.
 */

#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#define BENCH_MAX_DEPTH 6
#define BENCH_MAX_RUNS 64

/* The stacks compared: a raw socket BIO, one onion, a BIO_f_ssl chain. */
enum bench_impl { BENCH_RAW, BENCH_ONION, BENCH_CHAIN, BENCH_IMPLS };

/* Protocol and cipher of every layer of a stack. */
enum bench_suite {
    BENCH_T13_AES,
    BENCH_T13_CHACHA,
    BENCH_T12_AES,
    BENCH_SUITES
};

enum bench_xport { BENCH_SOCKETPAIR, BENCH_TCP, BENCH_XPORTS };

/* Allocation tags: which thread (side) made an allocation. */
enum bench_tag { BENCH_TAG_MAIN, BENCH_TAG_CLIENT, BENCH_TAG_SERVER };
#define BENCH_TAGS 3

/*
 * bench_count holds the counters of one counting filter BIO: transport
 * calls and bytes in each direction, TLS records parsed from the written
 * stream, and write-then-read turns (a flight sent, then an answer
 * awaited).  One side's BIO is used by one thread only.
 */
struct bench_count {
    uint64_t wbytes;
    uint64_t wcalls;
    uint64_t rbytes;
    uint64_t rcalls;
    uint64_t records;
    uint64_t turns;
    int last_op; /* 0 none, 1 write, 2 read */
    unsigned char hdr[5];
    size_t hdr_have;
    size_t body_left;
};

/* bench_fig is a figure over several runs: median, minimum and maximum. */
struct bench_fig {
    double med;
    double min;
    double max;
    int n;
};

/* bench_tls holds the contexts: [suite][release buffers]. */
struct bench_tls {
    SSL_CTX *client[BENCH_SUITES][2];
    SSL_CTX *server[BENCH_SUITES][2];
    char cert_desc[128];
};

/* A built stack: |top| is what the application reads and writes. */
struct bench_stack {
    BIO *top;
    int fd;
    int depth;
};

/* Memory counters of one allocation tag. */
struct bench_mem {
    long long live;       /* bytes live through OpenSSL's allocator */
    long long onion_live; /* of which allocated in bio_onion sources */
    unsigned long long allocs;
    unsigned long long onion_allocs; /* of which from bio_onion sources */
};

/* bench-util.c */
double bench_now(void);
double bench_thread_cpu(void);
void bench_pin(int cpu);
int bench_cpus(void);
struct bench_fig bench_fig_of(const double *v, int n);
void bench_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bench_errors(const char *what);
int bench_xport_pair(int xport, int fds[2]);
int bench_set_timeouts(int fd, int secs);
int bench_set_nonblock(int fd, int on);
void bench_fill(unsigned char *buf, size_t len, uint64_t *state);

int bench_mem_install(void);
int bench_mem_installed(void);
void bench_mem_set_tag(int tag);
void bench_mem_get(int tag, struct bench_mem *m);
long long bench_heap_in_use(void);
void bench_heap_trim(void);
long long bench_rss(void);
void bench_load_avg(char *buf, size_t len);

BIO *bench_count_new(struct bench_count *c);
void bench_count_reset(struct bench_count *c);

/* bench-stack.c */
int bench_tls_init(struct bench_tls *t);
void bench_tls_free(struct bench_tls *t);
const char *bench_suite_name(int suite);
const char *bench_suite_label(int suite);
size_t bench_suite_overhead(int suite);
const char *bench_impl_name(int impl);
const char *bench_xport_name(int xport);
int bench_stack_new(struct bench_stack *st, int impl, int depth, SSL_CTX *ctx,
                    int client, int fd, struct bench_count *count);
int bench_stack_handshake(struct bench_stack *st);
void bench_stack_free(struct bench_stack *st);
int bench_write_all(BIO *b, const unsigned char *p, size_t n);
int bench_read_full(BIO *b, unsigned char *p, size_t n);
int bench_ping(BIO *b, int client);
long long bench_sslbio_bytes(void);

/*
 * bench-run.c (bulk), bench-pair.c (handshake, small messages, memory),
 * bench-speed.c (cipher, record layer): one measurement each; 1 on
 * success, 0 on failure.
 */
int bench_run_two(void *(*fn)(void *), void *client, void *server);
struct bench_bulk_cfg {
    int impl;
    int depth;
    int suite;
    int xport;
    int both;   /* both directions at once (non-blocking) */
    int verify; /* pseudo-random payload, SHA-256 compared */
    int count;  /* counting BIO under the stack */
    size_t bytes;
    size_t chunk;
};

struct bench_bulk_out {
    double secs;
    double mbps;     /* application MB/s (10^6), both directions summed */
    double cpu_send; /* CPU seconds of the client (sender one way) */
    double cpu_recv; /* CPU seconds of the server (receiver one way) */
    struct bench_count sent;         /* sender's transport (one way) */
    struct bench_count recv;         /* receiver's transport (one way) */
    unsigned long long allocs;       /* both sides, during the transfer */
    unsigned long long onion_allocs; /* of which from bio_onion sources */
};

struct bench_hs_out {
    double wall;     /* seconds until both sides are done */
    double cpu;      /* CPU seconds, both sides */
    double cpu_cli;  /* CPU seconds, client */
    double cpu_srv;  /* CPU seconds, server */
    uint64_t turns;  /* client write-then-read turns: round trips */
    uint64_t wbytes; /* client + server transport bytes */
};

struct bench_small_out {
    double rtps;         /* round trips per second */
    double cpu_us;       /* CPU microseconds per round trip, both sides */
    double allocs;       /* allocations per round trip, both sides */
    double onion_allocs; /* of which from bio_onion sources */
};

struct bench_mem_out {
    double client; /* OpenSSL-allocator bytes per connection end */
    double server;
    double onion_client; /* of which from bio_onion sources */
    double onion_server;
    double heap; /* malloc heap (mallinfo2), both ends */
};

struct bench_idle_out {
    int conns;
    int batches;
    double client[BENCH_MAX_RUNS]; /* per-connection bytes, per batch */
    double server[BENCH_MAX_RUNS];
    double heap_client[BENCH_MAX_RUNS];
    double heap_server[BENCH_MAX_RUNS];
    double rss_client[BENCH_MAX_RUNS];
    double rss_server[BENCH_MAX_RUNS];
    double setup_secs;
    int live_ok; /* every connection answered a ping afterwards */
};

int bench_bulk(struct bench_tls *t, const struct bench_bulk_cfg *cfg,
               struct bench_bulk_out *out);
int bench_handshake(struct bench_tls *t, int impl, int depth, int suite,
                    struct bench_hs_out *out);
int bench_small(struct bench_tls *t, int impl, int depth, int msgs,
                struct bench_small_out *out);
int bench_memory(struct bench_tls *t, int impl, int depth, int release,
                 int conns, struct bench_mem_out *out);
int bench_idle(struct bench_tls *t, int impl, int depth, int conns, int batches,
               struct bench_idle_out *out);
double bench_cipher_speed(int suite, double secs);
int bench_record_speed(struct bench_tls *t, int suite, double secs,
                       double *seal, double *open);

/* onion-bench.c and bench-report.c: options and the stored results. */
enum bench_part {
    BENCH_PART_CIPHER,
    BENCH_PART_BULK,
    BENCH_PART_WIRE,
    BENCH_PART_HANDSHAKE,
    BENCH_PART_SMALL,
    BENCH_PART_MEMORY,
    BENCH_PART_IDLE,
    BENCH_PARTS
};

struct bench_opts {
    int quick;
    int part[BENCH_PARTS];
    int suite[BENCH_SUITES];
    int xport[BENCH_XPORTS];
    int dir[2];
    int impl[BENCH_IMPLS];
    int depth_min;
    int depth_max;
    int runs;
    int mib;
    int run_ms;
    size_t chunk;
    int msgs;
    int hs_runs;
    int mem_conns;
    int conns;
    const char *out;
    const char *data;
    const char *command;
};

/* Per MiB of application data, except |ratio| (wire bytes per app byte). */
struct bench_wire {
    double ratio;
    double records;
    double writes;
    double reads;
    double allocs;
    double onion_allocs;
};

#define BENCH_NDEPTH (BENCH_MAX_DEPTH + 1)

struct bench_results {
    int mem_hook;
    int parts_run;
    int failures;
    double total_secs;
    double phase_secs[BENCH_PARTS];
    char cpu[128];
    char load_start[64];
    char os[256];
    int ncpu;
    int have_cipher, have_bulk, have_wire, have_hs, have_small, have_mem;
    double cipher[BENCH_SUITES][BENCH_MAX_RUNS];
    double seal[BENCH_SUITES][BENCH_MAX_RUNS]; /* OpenSSL record layer */
    double open[BENCH_SUITES][BENCH_MAX_RUNS];
    double bulk[BENCH_XPORTS][2][BENCH_SUITES][BENCH_IMPLS][BENCH_NDEPTH]
               [BENCH_MAX_RUNS];
    int bulk_fail[BENCH_XPORTS][2][BENCH_SUITES][BENCH_IMPLS][BENCH_NDEPTH];
    double bulk_mib[BENCH_XPORTS][2][BENCH_SUITES][BENCH_IMPLS][BENCH_NDEPTH];
    /* One way: CPU microseconds per MiB, [0] sender, [1] receiver. */
    double bulk_cpu[BENCH_XPORTS][BENCH_SUITES][BENCH_IMPLS][BENCH_NDEPTH][2]
                   [BENCH_MAX_RUNS];
    int bulk_verified[BENCH_XPORTS][2][BENCH_SUITES][BENCH_IMPLS][BENCH_NDEPTH];
    struct bench_wire wire[BENCH_SUITES][BENCH_IMPLS][BENCH_NDEPTH]
                          [BENCH_MAX_RUNS];
    struct bench_hs_out hs[2][BENCH_IMPLS][5][BENCH_MAX_RUNS];
    int hs_fail[2][BENCH_IMPLS][5];
    double small[BENCH_IMPLS][5][BENCH_MAX_RUNS];
    double small_cpu[BENCH_IMPLS][5][BENCH_MAX_RUNS];    /* us per round trip */
    double small_allocs[BENCH_IMPLS][5][BENCH_MAX_RUNS]; /* per round trip */
    double small_onion_allocs[BENCH_IMPLS][5][BENCH_MAX_RUNS];
    struct bench_mem_out mem[BENCH_IMPLS][5][2][BENCH_MAX_RUNS];
    long long sslbio;
    struct bench_idle_out idle[BENCH_IMPLS];
    int idle_ran[BENCH_IMPLS];
    int idle_ok[BENCH_IMPLS];
};

extern struct bench_opts bench_opt;

/* bench-opts.c: fills bench_opt; 0 on a usage error (already reported). */
int bench_parse_opts(int argc, char **argv);
extern struct bench_results bench_res;

int bench_report(int argc, char **argv, struct bench_tls *t);

#endif /* BENCH_H */
