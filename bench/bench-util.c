/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * onion-bench helpers: clocks, statistics, transports, the counting filter
 * BIO and the allocation counters.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#if defined(__GLIBC__)                                                         \
    && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define BENCH_HAVE_MALLINFO2 1
#endif

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "bench.h"

static int count_write_ex(BIO *b, const char *data, size_t len,
                          size_t *written);
static int count_read_ex(BIO *b, char *data, size_t len, size_t *readbytes);
static long count_ctrl(BIO *b, int cmd, long larg, void *parg);
static int count_create(BIO *b);
static void count_parse(struct bench_count *c, const unsigned char *p,
                        size_t n);

/* Clocks and CPU placement. */

double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_thread_cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int bench_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n > 0 ? (int)n : 1;
}

/*
 * bench_pin keeps the calling thread on one core, so that each side of a
 * connection has a core of its own (the model behind limit(N)).  On a
 * one-core machine it does nothing.
 */
void bench_pin(int cpu)
{
    cpu_set_t set;
    int n = bench_cpus();

    if (n < 2)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu % n, &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Statistics. */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

struct bench_fig bench_fig_of(const double *v, int n)
{
    struct bench_fig f = { 0, 0, 0, 0 };
    double s[BENCH_MAX_RUNS];
    int i;

    if (n <= 0)
        return f;
    if (n > BENCH_MAX_RUNS)
        n = BENCH_MAX_RUNS;
    for (i = 0; i < n; i++)
        s[i] = v[i];
    qsort(s, (size_t)n, sizeof(s[0]), cmp_double);
    f.n = n;
    f.min = s[0];
    f.max = s[n - 1];
    f.med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    return f;
}

/* Logging (progress goes to stderr; results to stdout and files). */

void bench_log(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

static int print_err_cb(const char *str, size_t len, void *u)
{
    (void)u;
    fprintf(stderr, "    %.*s", (int)len, str);
    return 1;
}

/* bench_errors prints the calling thread's OpenSSL error queue. */
void bench_errors(const char *what)
{
    fprintf(stderr, "  error: %s\n", what);
    ERR_print_errors_cb(print_err_cb, NULL);
    fflush(stderr);
}

/* Transports. */

int bench_set_timeouts(int fd, int secs)
{
    struct timeval tv;

    tv.tv_sec = secs;
    tv.tv_usec = 0;
    return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0
        && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0;
}

int bench_set_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0)
        return 0;
    fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, fl) == 0;
}

/*
 * bench_xport_pair connects two blocking stream sockets: a socketpair, or
 * loopback TCP through a listener on 127.0.0.1 at a port the kernel picks
 * (TCP_NODELAY on both ends, so that small records are never held back
 * for an acknowledgement).  Blocking calls time out after 30 s, so a stall
 * becomes an error instead of a hung benchmark.  fds[0] is the client's.
 */
int bench_xport_pair(int xport, int fds[2])
{
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    int lfd = -1, one = 1;

    fds[0] = fds[1] = -1;
    if (xport == BENCH_SOCKETPAIR) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
            goto err;
    } else {
        lfd = socket(AF_INET, SOCK_STREAM, 0);
        if (lfd < 0)
            goto err;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sa.sin_port = 0;
        if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0
            || listen(lfd, 1) != 0
            || getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0)
            goto err;
        fds[0] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[0] < 0
            || connect(fds[0], (struct sockaddr *)&sa, sizeof(sa)) != 0)
            goto err;
        fds[1] = accept(lfd, NULL, NULL);
        if (fds[1] < 0)
            goto err;
        close(lfd);
        lfd = -1;
        if (setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0
            || setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))
                != 0)
            goto err;
    }
    if (!bench_set_timeouts(fds[0], 30) || !bench_set_timeouts(fds[1], 30))
        goto err;
    return 1;
err:
    bench_log("  transport: %s\n", strerror(errno));
    if (lfd >= 0)
        close(lfd);
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    fds[0] = fds[1] = -1;
    return 0;
}

/* bench_fill writes a pseudo-random stream (xorshift64*) into |buf|. */
void bench_fill(unsigned char *buf, size_t len, uint64_t *state)
{
    uint64_t x = *state, v = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        if (i % 8 == 0) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            v = x * 0x2545F4914F6CDD1DULL;
        }
        buf[i] = (unsigned char)(v >> (8 * (i % 8)));
    }
    *state = x;
}

/*
 * Allocation counters.  CRYPTO_set_mem_functions routes every allocation
 * made through OpenSSL's allocator (OPENSSL_malloc and friends, in libssl,
 * libcrypto and any library using them) through these hooks, which keep a
 * 16-byte header with the size, the allocating thread's tag and whether
 * the caller's source file lies in a "bio_onion" directory.
 */

struct mem_hdr {
    size_t size;
    int tag;
    int onion;
};

static atomic_llong mem_live[BENCH_TAGS];
static atomic_llong mem_onion[BENCH_TAGS];
static atomic_ullong mem_allocs[BENCH_TAGS];
static atomic_ullong mem_onion_allocs[BENCH_TAGS];
static __thread int mem_tag;
static int mem_on;

static int onion_file(const char *file)
{
    const char *slash, *dir;

    if (file == NULL)
        return 0;
    slash = strrchr(file, '/');
    if (slash == NULL)
        return 0;
    dir = slash;
    while (dir > file && dir[-1] != '/')
        dir--;
    return (size_t)(slash - dir) == strlen("bio_onion")
        && strncmp(dir, "bio_onion", strlen("bio_onion")) == 0;
}

static void mem_account(struct mem_hdr *h, int sign)
{
    long long n = (long long)h->size * sign;

    atomic_fetch_add(&mem_live[h->tag], n);
    if (h->onion)
        atomic_fetch_add(&mem_onion[h->tag], n);
}

static void *mem_malloc(size_t num, const char *file, int line)
{
    struct mem_hdr *h;

    (void)line;
    if (num > SIZE_MAX - sizeof(struct mem_hdr) - 16)
        return NULL;
    h = malloc(sizeof(*h) + num);
    if (h == NULL)
        return NULL;
    h->size = num;
    h->tag = mem_tag;
    h->onion = onion_file(file);
    mem_account(h, 1);
    atomic_fetch_add(&mem_allocs[h->tag], 1);
    if (h->onion)
        atomic_fetch_add(&mem_onion_allocs[h->tag], 1);
    return h + 1;
}

static void mem_free(void *p, const char *file, int line)
{
    struct mem_hdr *h;

    (void)file;
    (void)line;
    if (p == NULL)
        return;
    h = (struct mem_hdr *)p - 1;
    mem_account(h, -1);
    free(h);
}

static void *mem_realloc(void *p, size_t num, const char *file, int line)
{
    struct mem_hdr *h, *nh;

    if (p == NULL)
        return mem_malloc(num, file, line);
    if (num == 0) {
        mem_free(p, file, line);
        return NULL;
    }
    if (num > SIZE_MAX - sizeof(struct mem_hdr) - 16)
        return NULL;
    h = (struct mem_hdr *)p - 1;
    mem_account(h, -1);
    nh = realloc(h, sizeof(*nh) + num);
    if (nh == NULL) {
        mem_account(h, 1);
        return NULL;
    }
    nh->size = num;
    nh->tag = mem_tag;
    nh->onion = onion_file(file) || nh->onion;
    mem_account(nh, 1);
    atomic_fetch_add(&mem_allocs[nh->tag], 1);
    if (onion_file(file))
        atomic_fetch_add(&mem_onion_allocs[nh->tag], 1);
    return nh + 1;
}

/* bench_mem_install must run before anything allocates through OpenSSL. */
int bench_mem_install(void)
{
    mem_on = CRYPTO_set_mem_functions(mem_malloc, mem_realloc, mem_free);
    return mem_on;
}

int bench_mem_installed(void)
{
    return mem_on;
}

void bench_mem_set_tag(int tag)
{
    mem_tag = tag;
}

void bench_mem_get(int tag, struct bench_mem *m)
{
    m->live = atomic_load(&mem_live[tag]);
    m->onion_live = atomic_load(&mem_onion[tag]);
    m->allocs = atomic_load(&mem_allocs[tag]);
    m->onion_allocs = atomic_load(&mem_onion_allocs[tag]);
}

/* bench_heap_in_use: bytes the malloc heap has handed out, or -1. */
long long bench_heap_in_use(void)
{
#ifdef BENCH_HAVE_MALLINFO2
    struct mallinfo2 mi = mallinfo2();

    return (long long)(mi.uordblks + mi.hblkhd);
#else
    return -1;
#endif
}

/*
 * bench_heap_trim gives free heap pages back to the system, so that the
 * resident size measured next grows only with what is really used.
 */
void bench_heap_trim(void)
{
#ifdef BENCH_HAVE_MALLINFO2
    malloc_trim(0);
#endif
}

/* bench_load_avg: the 1, 5 and 15 minute load averages, as text. */
void bench_load_avg(char *buf, size_t len)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double a, b, c;

    snprintf(buf, len, "unknown");
    if (f != NULL) {
        if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
            snprintf(buf, len, "%.2f, %.2f, %.2f", a, b, c);
        fclose(f);
    }
}

/* bench_rss: resident set size in bytes, or -1. */
long long bench_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long size = 0, res = -1;

    if (f == NULL)
        return -1;
    if (fscanf(f, "%lld %lld", &size, &res) != 2)
        res = -1;
    fclose(f);
    return res < 0 ? -1 : res * sysconf(_SC_PAGESIZE);
}

/*
 * The counting filter BIO sits between a stack and its transport.  It
 * forwards everything, as bf_null does, and counts calls and bytes; on the
 * written stream it parses TLS record headers to count records.
 */

static BIO_METHOD *count_meth;
static pthread_once_t count_once = PTHREAD_ONCE_INIT;

static void count_meth_init(void)
{
    BIO_METHOD *m =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "bench count");

    if (m == NULL || !BIO_meth_set_write_ex(m, count_write_ex)
        || !BIO_meth_set_read_ex(m, count_read_ex)
        || !BIO_meth_set_ctrl(m, count_ctrl)
        || !BIO_meth_set_create(m, count_create)) {
        BIO_meth_free(m);
        return;
    }
    count_meth = m;
}

BIO *bench_count_new(struct bench_count *c)
{
    BIO *b;

    if (pthread_once(&count_once, count_meth_init) != 0 || count_meth == NULL)
        return NULL;
    b = BIO_new(count_meth);
    if (b == NULL)
        return NULL;
    memset(c, 0, sizeof(*c));
    BIO_set_data(b, c);
    return b;
}

/* bench_count_reset zeroes the counters, keeping the record parser state. */
void bench_count_reset(struct bench_count *c)
{
    c->wbytes = c->wcalls = c->rbytes = c->rcalls = 0;
    c->records = c->turns = 0;
}

static int count_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void count_parse(struct bench_count *c, const unsigned char *p, size_t n)
{
    size_t k;

    while (n > 0) {
        if (c->body_left > 0) {
            k = n < c->body_left ? n : c->body_left;
            c->body_left -= k;
            p += k;
            n -= k;
            continue;
        }
        k = 5 - c->hdr_have;
        if (k > n)
            k = n;
        memcpy(c->hdr + c->hdr_have, p, k);
        c->hdr_have += k;
        p += k;
        n -= k;
        if (c->hdr_have == 5) {
            c->records++;
            c->body_left = ((size_t)c->hdr[3] << 8) | c->hdr[4];
            c->hdr_have = 0;
        }
    }
}

static int count_write_ex(BIO *b, const char *data, size_t len, size_t *written)
{
    struct bench_count *c = BIO_get_data(b);
    BIO *next = BIO_next(b);
    int ret;

    *written = 0;
    if (next == NULL)
        return 0;
    BIO_clear_retry_flags(b);
    ret = BIO_write_ex(next, data, len, written);
    c->wcalls++;
    c->last_op = 1;
    if (ret > 0) {
        c->wbytes += *written;
        count_parse(c, (const unsigned char *)data, *written);
    }
    BIO_copy_next_retry(b);
    return ret;
}

static int count_read_ex(BIO *b, char *data, size_t len, size_t *readbytes)
{
    struct bench_count *c = BIO_get_data(b);
    BIO *next = BIO_next(b);
    int ret;

    *readbytes = 0;
    if (next == NULL)
        return 0;
    BIO_clear_retry_flags(b);
    ret = BIO_read_ex(next, data, len, readbytes);
    c->rcalls++;
    if (c->last_op == 1)
        c->turns++;
    c->last_op = 2;
    if (ret > 0)
        c->rbytes += *readbytes;
    BIO_copy_next_retry(b);
    return ret;
}

static long count_ctrl(BIO *b, int cmd, long larg, void *parg)
{
    BIO *next = BIO_next(b);
    long ret;

    if (next == NULL)
        return 0;
    switch (cmd) {
    case BIO_C_DO_STATE_MACHINE:
    case BIO_CTRL_FLUSH:
        BIO_clear_retry_flags(b);
        ret = BIO_ctrl(next, cmd, larg, parg);
        BIO_copy_next_retry(b);
        return ret;
    case BIO_CTRL_DUP:
        return 0;
    default:
        return BIO_ctrl(next, cmd, larg, parg);
    }
}
