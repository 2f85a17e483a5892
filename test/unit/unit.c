/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "unit.h"

#define MSG_MAX 16384

const CERTS_TLS_OPTS unit_layer_opts[4] = {
    { TLS1_3_VERSION, TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", NULL,
      "layer0.onion.test", CERTS_LEAF_GOOD, 0, 0, 0 },
    { TLS1_2_VERSION, TLS1_2_VERSION, NULL, "ECDHE-ECDSA-AES256-GCM-SHA384",
      "layer1.onion.test", CERTS_LEAF_GOOD, 0, 0, 0 },
    { TLS1_3_VERSION, TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256", NULL,
      "layer2.onion.test", CERTS_LEAF_GOOD, 0, 0, 0 },
    { TLS1_2_VERSION, TLS1_2_VERSION, NULL, "ECDHE-ECDSA-AES128-SHA256",
      "layer3.onion.test", CERTS_LEAF_GOOD, 0, 0, 0 },
};

int unit_check(int ok, const char *cond, const char *file, int line,
               const char *fmt, ...)
{
    char *msg;
    size_t used;
    va_list ap;

    if (ok) {
        CU_assertImplementation(CU_TRUE, (unsigned int)line, cond, file, "",
                                CU_FALSE);
        return 1;
    }
    msg = malloc(MSG_MAX);
    if (msg == NULL) {
        CU_assertImplementation(CU_FALSE, (unsigned int)line, cond, file, "",
                                CU_FALSE);
        return 0;
    }
    snprintf(msg, MSG_MAX, "%s: ", cond);
    used = strlen(msg);
    va_start(ap, fmt);
    vsnprintf(msg + used, MSG_MAX - used, fmt, ap);
    va_end(ap);
    if (ERR_peek_error() != 0) {
        used = strlen(msg);
        snprintf(msg + used, MSG_MAX - used, "\n  OpenSSL error queue:");
        test_errors_to_string(msg, MSG_MAX);
    }
    fprintf(stderr, "\n%s:%d: FAILED %s\n", file, line, msg);
    fflush(stderr);
    /* CUnit copies the condition text into its failure record. */
    CU_assertImplementation(CU_FALSE, (unsigned int)line, msg, file, "",
                            CU_FALSE);
    free(msg);
    return 0;
}

int unit_run_peers(PEER_FN cfn, void *carg, PEER_FN sfn, void *sarg, int flags,
                   const char *file, int line)
{
    PEER client, server;
    char *report = malloc(2 * TFAIL_MSG_MAX + 64);
    int ok;

    if (report == NULL)
        return unit_check(0, "malloc", file, line, "out of memory");
    ok = peers_run(cfn, carg, sfn, sarg, flags, &client, &server);
    if (!ok)
        peers_report(&client, &server, report, 2 * TFAIL_MSG_MAX + 64);
    ok = unit_check(ok, "peers succeeded", file, line, "%s", report);
    free(report);
    return ok;
}

int unit_run_pump(PUMP_SIDE *a, PUMP_SIDE *b, uint64_t seed, const char *file,
                  int line)
{
    char *report = malloc(3 * TFAIL_MSG_MAX + 64);
    TFAIL f;
    int ok;

    if (report == NULL)
        return unit_check(0, "malloc", file, line, "out of memory");
    tfail_init(&f, "pump");
    ok = pump_run(a, b, 0, 0, &f);
    if (!ok)
        pump_report(&f, a, b, report, 3 * TFAIL_MSG_MAX + 64);
    ok = unit_check(ok, "pump finished", file, line,
                    "seed %llu (replay with ONION_TEST_SEED=%llu): %s",
                    (unsigned long long)seed, (unsigned long long)seed, report);
    free(report);
    return ok;
}

int unit_ctxs_new(UNIT_CTXS *c, const CERTS_TLS_OPTS *opts, int n)
{
    int i;

    memset(c, 0, sizeof(*c));
    if (!CHECK(n >= 0 && n <= UNIT_MAX_LAYERS, "%d layers", n))
        return 0;
    for (i = 0; i < n; i++) {
        const CERTS_TLS_OPTS *o =
            opts != NULL ? &opts[i] : &unit_layer_opts[i % 4];

        if (!CHECK(certs_ctx_pair(o, &c->client[i], &c->server[i]),
                   "cannot create the contexts of layer %d", i)) {
            unit_ctxs_free(c);
            return 0;
        }
        c->n = i + 1;
    }
    return 1;
}

void unit_ctxs_free(UNIT_CTXS *c)
{
    int i;

    for (i = 0; i < c->n; i++) {
        SSL_CTX_free(c->client[i]);
        SSL_CTX_free(c->server[i]);
        c->client[i] = c->server[i] = NULL;
    }
    c->n = 0;
}

int unit_expect_onion_error(int reason, const char *rname, const char *what,
                            const char *file, int line)
{
    char dump[4096];
    int found = test_onion_error_take(reason, NULL, dump, sizeof(dump));

    return unit_check(found, rname, file, line,
                      "%s: expected a bio_onion error (library %d) with "
                      "reason %s (%d) on the queue; queue was:%s",
                      what, BIO_onion_error_library(), rname, reason, dump);
}

int unit_pair_onions(BIO **c, BIO **s, const UNIT_CTXS *ctxs, int depth)
{
    PUMP_OP oc[2 * UNIT_MAX_LAYERS], os[2 * UNIT_MAX_LAYERS];
    PUMP_SIDE sc, ss;
    BIO *tc = NULL, *ts = NULL;
    int i, sides = 0, ok = 0;

    *c = *s = NULL;
    memset(oc, 0, sizeof(oc));
    memset(os, 0, sizeof(os));
    if (!CHECK(depth <= ctxs->n, "depth %d with %d contexts", depth, ctxs->n)
        || !CHECK(pump_pair_new(&tc, &ts, 0), "BIO pair"))
        goto end;
    *c = BIO_new_onion();
    *s = BIO_new_onion();
    if (!CHECK(*c != NULL && *s != NULL, "BIO_new_onion"))
        goto end;
    BIO_push(*c, tc);
    BIO_push(*s, ts);
    tc = ts = NULL;
    for (i = 0; i < depth; i++) {
        oc[2 * i].type = os[2 * i].type = PUMP_PUSH;
        oc[2 * i].ctx = ctxs->client[i];
        oc[2 * i].client = 1;
        os[2 * i].ctx = ctxs->server[i];
        oc[2 * i + 1].type = os[2 * i + 1].type = PUMP_HANDSHAKE;
    }
    if (!CHECK(pump_side_init(&sc, "client", *c, BIO_next(*c), oc,
                              (size_t)(2 * depth), 1),
               "pump_side_init"))
        goto end;
    sides = 1;
    if (!CHECK(pump_side_init(&ss, "server", *s, BIO_next(*s), os,
                              (size_t)(2 * depth), 2),
               "pump_side_init"))
        goto end;
    sides = 2;
    ok = RUN_PUMP(&sc, &ss, 0);
end:
    if (sides >= 1)
        pump_side_cleanup(&sc);
    if (sides >= 2)
        pump_side_cleanup(&ss);
    BIO_free(tc);
    BIO_free(ts);
    if (!ok) {
        BIO_free_all(*c);
        BIO_free_all(*s);
        *c = *s = NULL;
    }
    return ok;
}

int unit_suite_init(void)
{
    ERR_clear_error();
    return certs_init() ? 0 : 1;
}

int unit_suite_cleanup(void)
{
    ERR_clear_error();
    return 0;
}
