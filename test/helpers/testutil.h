/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * Common test utilities: failure records that carry a message and the
 * OpenSSL error queue (usable from any thread), environment knobs, a small
 * deterministic random generator and a dump of the error queue.  Nothing
 * here depends on CUnit, so fuzzers and fault-injection programs can link
 * the helpers too; the CUnit glue lives in test/unit/unit.h.
 */

#ifndef ONION_TEST_TESTUTIL_H
#define ONION_TEST_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define TFAIL_MSG_MAX 6144

/*
 * TFAIL records the first failure of one actor (a peer thread, a pump side,
 * a test).  |seq| orders failures across threads, so a report can say which
 * one came first (the later ones are usually consequences).
 */
typedef struct tfail_st {
    const char *who;
    int failed;
    unsigned long seq;
    char msg[TFAIL_MSG_MAX];
} TFAIL;

/* tfail_init clears |f| and names its actor. */
void tfail_init(TFAIL *f, const char *who);

/*
 * tfail_set records a failure at |file|:|line| with a printf-style message,
 * followed by the calling thread's OpenSSL error queue (which it empties).
 * Only the first failure of |f| is kept; later ones are appended in short
 * form while there is room.  Always returns 0 so it can end a check.
 */
int tfail_set(TFAIL *f, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int tfail_vset(TFAIL *f, const char *file, int line, const char *fmt,
               va_list ap) __attribute__((format(printf, 4, 0)));

/*
 * TFAIL_CHECK evaluates |cond|; on failure it records the condition and the
 * message in |f| and yields 0, otherwise 1.  Use it as
 * "if (!TFAIL_CHECK(f, x == 1, "x is %d", x)) goto end;".
 */
#define TFAIL_CHECK(f, cond, ...)                                              \
    ((cond) ? 1                                                                \
            : tfail_set((f), __FILE__, __LINE__,                               \
                        "check failed: " #cond ": " __VA_ARGS__))

/*
 * test_errors_to_string appends the calling thread's OpenSSL error queue to
 * |buf| (size |len|, always NUL-terminated) and empties the queue.  Returns
 * the number of errors.
 */
int test_errors_to_string(char *buf, size_t len);

/*
 * test_env_ulong returns the value of the environment variable |name| as an
 * unsigned number, or |def| when it is not set or not a number.
 */
unsigned long test_env_ulong(const char *name, unsigned long def);

/*
 * test_seed returns the seed for a randomised test: ONION_TEST_SEED when it
 * is set (to replay a failure), |def| otherwise.  Tests print the seed in
 * every failure message.
 */
uint64_t test_seed(uint64_t def);

/*
 * test_timeout_seconds is the watchdog for blocking test transports:
 * ONION_TEST_TIMEOUT, default 20 seconds.  A deadlocked test fails after it
 * instead of hanging.
 */
unsigned int test_timeout_seconds(void);

/* test_rand is a splitmix64 step: deterministic for a given state. */
uint64_t test_rand(uint64_t *state);

/* test_rand_below returns a value in [0, n) (n > 0). */
uint64_t test_rand_below(uint64_t *state, uint64_t n);

/*
 * test_onion_error_take empties the calling thread's error queue, looking
 * for an error of the bio_onion library with |reason| (any reason when
 * |reason| is 0) whose data contains |data_sub| (any data when NULL).  The
 * whole queue is written to |dump| (size |len|) for failure messages.
 * Returns 1 if such an error was found, 0 otherwise.
 */
int test_onion_error_take(int reason, const char *data_sub, char *dump,
                          size_t len);

/*
 * test_ignore_sigpipe makes writes to a closed socket fail with EPIPE
 * instead of killing the process.
 */
void test_ignore_sigpipe(void);

#endif /* ONION_TEST_TESTUTIL_H */
