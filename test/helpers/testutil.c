/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "bio_onion.h"
#include "testutil.h"

static unsigned long fail_seq;

void tfail_init(TFAIL *f, const char *who)
{
    memset(f, 0, sizeof(*f));
    f->who = who;
}

static void append(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list ap;

    if (used + 1 >= len)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

int test_errors_to_string(char *buf, size_t len)
{
    const char *file, *func, *data;
    int line, flags, n = 0;
    unsigned long e;
    char ebuf[256];

    while ((e = ERR_get_error_all(&file, &line, &func, &data, &flags)) != 0) {
        ERR_error_string_n(e, ebuf, sizeof(ebuf));
        append(buf, len, "\n    [%s] %s:%d %s%s%s", ebuf, file, line,
               func != NULL ? func : "",
               (flags & ERR_TXT_STRING) != 0 && data != NULL ? " data: " : "",
               (flags & ERR_TXT_STRING) != 0 && data != NULL ? data : "");
        n++;
    }
    return n;
}

int tfail_vset(TFAIL *f, const char *file, int line, const char *fmt,
               va_list ap)
{
    char tmp[1024];
    char *dst;
    size_t len;

    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    if (!f->failed) {
        f->failed = 1;
        f->seq = __atomic_add_fetch(&fail_seq, 1, __ATOMIC_SEQ_CST);
        snprintf(f->msg, sizeof(f->msg), "%s: %s:%d: %s",
                 f->who != NULL ? f->who : "test", file, line, tmp);
        dst = f->msg;
        len = sizeof(f->msg);
        if (ERR_peek_error() != 0) {
            append(dst, len, "\n  OpenSSL error queue:");
            test_errors_to_string(dst, len);
        }
    } else {
        append(f->msg, sizeof(f->msg), "\n  then %s:%d: %s", file, line, tmp);
        ERR_clear_error();
    }
    return 0;
}

int tfail_set(TFAIL *f, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tfail_vset(f, file, line, fmt, ap);
    va_end(ap);
    return 0;
}

unsigned long test_env_ulong(const char *name, unsigned long def)
{
    const char *v = getenv(name);
    unsigned long r;
    char *endp;

    if (v == NULL || *v == '\0')
        return def;
    errno = 0;
    r = strtoul(v, &endp, 0);
    if (errno != 0 || *endp != '\0')
        return def;
    return r;
}

uint64_t test_seed(uint64_t def)
{
    const char *v = getenv("ONION_TEST_SEED");
    unsigned long long r;
    char *endp;

    if (v == NULL || *v == '\0')
        return def;
    errno = 0;
    r = strtoull(v, &endp, 0);
    if (errno != 0 || *endp != '\0')
        return def;
    return (uint64_t)r;
}

unsigned int test_timeout_seconds(void)
{
    return (unsigned int)test_env_ulong("ONION_TEST_TIMEOUT", 20);
}

uint64_t test_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint64_t test_rand_below(uint64_t *state, uint64_t n)
{
    return test_rand(state) % n;
}

int test_onion_error_take(int reason, const char *data_sub, char *dump,
                          size_t len)
{
    const char *file, *func, *data;
    int line, flags, found = 0;
    unsigned long e;
    char ebuf[256];

    if (len > 0)
        dump[0] = '\0';
    while ((e = ERR_get_error_all(&file, &line, &func, &data, &flags)) != 0) {
        int has_data = (flags & ERR_TXT_STRING) != 0 && data != NULL;

        ERR_error_string_n(e, ebuf, sizeof(ebuf));
        append(dump, len, "\n    [%s] %s:%d%s%s", ebuf, file, line,
               has_data ? " data: " : "", has_data ? data : "");
        if (ERR_GET_LIB(e) == BIO_onion_error_library()
            && (reason == 0 || ERR_GET_REASON(e) == reason)
            && (data_sub == NULL || (has_data && strstr(data, data_sub))))
            found = 1;
    }
    if (len > 0 && dump[0] == '\0')
        append(dump, len, " (error queue empty)");
    return found;
}

void test_ignore_sigpipe(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
}
