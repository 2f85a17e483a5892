/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * The test helpers themselves: the pump reports a deadlock and wrong data
 * instead of passing or hanging; the fault BIO is deterministic per seed
 * and does what it is told; the recording BIO parses records across split
 * writes; the gather BIO holds writes until a flush; payload checks name
 * the first differing offset; the test PKI verifies as intended.  Without
 * these the other suites could pass when they should not.
 */

#include <string.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "unit.h"

static void test_helpers_pump_detects_deadlock(void)
{
    PAYLOAD pl;
    PUMP_OP op;
    PUMP_SIDE a, b;
    BIO *x = NULL, *y = NULL;
    TFAIL f;
    int sides = 0, r;

    memset(&pl, 0, sizeof(pl));
    memset(&op, 0, sizeof(op));
    tfail_init(&f, "pump");
    if (!CHECK(payload_init(&pl, 100, 1) && pump_pair_new(&x, &y, 0), "setup"))
        goto end;
    /* Both sides wait to read: nobody ever writes. */
    op.type = PUMP_READ;
    op.in = &pl;
    if (!CHECK(pump_side_init(&a, "a", x, x, &op, 1, 1), "init"))
        goto end;
    sides = 1;
    if (!CHECK(pump_side_init(&b, "b", y, y, &op, 1, 2), "init"))
        goto end;
    sides = 2;
    r = pump_run(&a, &b, 50, 0, &f);
    CHECK(r == 0 && f.failed && strstr(f.msg, "deadlock") != NULL,
          "pump_run returned %d: %s", r, f.msg);
end:
    if (sides >= 1)
        pump_side_cleanup(&a);
    if (sides >= 2)
        pump_side_cleanup(&b);
    BIO_free(x);
    BIO_free(y);
    payload_free(&pl);
}

static void test_helpers_pump_detects_wrong_data(void)
{
    PAYLOAD sent, expected;
    PUMP_OP wop, rop;
    PUMP_SIDE a, b;
    BIO *x = NULL, *y = NULL;
    TFAIL f;
    int sides = 0, r;

    memset(&sent, 0, sizeof(sent));
    memset(&expected, 0, sizeof(expected));
    memset(&wop, 0, sizeof(wop));
    memset(&rop, 0, sizeof(rop));
    tfail_init(&f, "pump");
    if (!CHECK(payload_init(&sent, 5000, 3) && payload_init(&expected, 5000, 3)
                   && pump_pair_new(&x, &y, 0),
               "setup"))
        goto end;
    expected.data[4321] ^= 1;
    wop.type = PUMP_WRITE;
    wop.out = &sent;
    rop.type = PUMP_READ;
    rop.in = &expected;
    if (!CHECK(pump_side_init(&a, "writer", x, x, &wop, 1, 1), "init"))
        goto end;
    sides = 1;
    if (!CHECK(pump_side_init(&b, "reader", y, y, &rop, 1, 2), "init"))
        goto end;
    sides = 2;
    r = pump_run(&a, &b, 0, 0, &f);
    CHECK(r == 0 && b.fail.failed && strstr(b.fail.msg, "offset 4321") != NULL,
          "pump_run returned %d: %s", r, b.fail.msg);
end:
    if (sides >= 1)
        pump_side_cleanup(&a);
    if (sides >= 2)
        pump_side_cleanup(&b);
    BIO_free(x);
    BIO_free(y);
    payload_free(&sent);
    payload_free(&expected);
}

/* Runs |n| one-byte-buffer reads through a fault BIO; records results. */
static int fault_trace(const FAULT_CONFIG *c, int *trace, int n,
                       FAULT_STATS *st)
{
    BIO *f = fault_bio_new(c), *mem = BIO_new(BIO_s_mem());
    unsigned char buf[64];
    int i;

    if (f == NULL || mem == NULL) {
        BIO_free(f);
        BIO_free(mem);
        return 0;
    }
    BIO_set_mem_eof_return(mem, -1);
    for (i = 0; i < n; i++)
        BIO_write(mem, "0123456789abcdef0123456789abcdef", 32);
    BIO_push(f, mem);
    for (i = 0; i < n; i++)
        trace[i] = BIO_read(f, buf, sizeof(buf));
    fault_bio_stats(f, st);
    BIO_free_all(f);
    return 1;
}

static void test_helpers_faultbio(void)
{
    FAULT_CONFIG c;
    FAULT_STATS s1, s2;
    int t1[1000], t2[1000], i, same = 1, ones = 1;
    BIO *f = NULL, *mem = NULL;
    unsigned char buf[64];

    fault_config_default(&c, 12345);
    c.read_retry_permille = 300;
    c.short_read = FAULT_SHORT_RANDOM;
    if (!CHECK(fault_trace(&c, t1, 1000, &s1) && fault_trace(&c, t2, 1000, &s2),
               "fault_trace"))
        return;
    for (i = 0; i < 1000; i++)
        same &= t1[i] == t2[i];
    CHECK(same, "the same seed gave different fault sequences");
    CHECK(s1.read_retries > 200 && s1.read_retries < 400,
          "%lu retries in 1000 reads at 30%%", s1.read_retries);
    CHECK(s1.read_calls == 1000, "%lu calls counted", s1.read_calls);
    /* One-byte reads, a cut-off after 10 bytes, corruption at offset 3. */
    fault_config_default(&c, 1);
    c.short_read = FAULT_SHORT_ONE;
    c.read_cutoff = 10;
    c.read_corrupt = 3;
    c.corrupt_mask = 0x20;
    f = fault_bio_new(&c);
    mem = BIO_new(BIO_s_mem());
    if (!CHECK(f != NULL && mem != NULL, "allocation")) {
        BIO_free(mem);
        goto end;
    }
    BIO_write(mem, "abcdefghijklmnop", 16);
    BIO_push(f, mem);
    for (i = 0; i < 10; i++) {
        int r = BIO_read(f, buf + i, 5);

        ones &= r == 1;
    }
    CHECK(ones, "short reads of more than one byte");
    CHECK(memcmp(buf, "abcDefghij", 10) == 0, "corruption: %.10s", buf);
    CHECK(BIO_read(f, buf, 5) == 0 && !BIO_should_retry(f),
          "no end of stream at the cut-off");
end:
    BIO_free_all(f);
}

static void test_helpers_recbio_parses_records(void)
{
    /* Records of 3, 0 and 300 bytes, types 22, 21 and 23. */
    unsigned char wire[5 + 3 + 5 + 0 + 5 + 300];
    BIO *rec = recbio_new(), *mem = BIO_new(BIO_s_mem());
    RECBIO_RECORD r;
    size_t cuts[] = { 1, 4, 3, 6, 1, 8, 200 }, off = 0, i;

    memset(wire, 0, sizeof(wire));
    wire[0] = 22, wire[3] = 0, wire[4] = 3;
    wire[8] = 21, wire[11] = 0, wire[12] = 0;
    wire[13] = 23, wire[16] = 1, wire[17] = 44;
    if (!CHECK(rec != NULL && mem != NULL, "allocation")) {
        BIO_free(mem);
        goto end;
    }
    BIO_push(rec, mem);
    for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        BIO_write(rec, wire + off, (int)cuts[i]);
        off += cuts[i];
        if (i == 0)
            CHECK(!recbio_reset(rec), "reset inside a header succeeded");
    }
    CHECK(!recbio_reset(rec), "reset inside a record body succeeded");
    BIO_write(rec, wire + off, (int)(sizeof(wire) - off));
    CHECK(recbio_count(rec, RECBIO_WRITE) == 3, "%zu records",
          recbio_count(rec, RECBIO_WRITE));
    CHECK(recbio_get(rec, RECBIO_WRITE, 0, &r) && r.type == 22 && r.len == 3,
          "record 0");
    CHECK(recbio_get(rec, RECBIO_WRITE, 1, &r) && r.type == 21 && r.len == 0,
          "record 1");
    CHECK(recbio_get(rec, RECBIO_WRITE, 2, &r) && r.type == 23 && r.len == 300,
          "record 2");
    CHECK(recbio_reset(rec) && recbio_count(rec, RECBIO_WRITE) == 0,
          "reset at a record boundary");
    BIO_ctrl(rec, BIO_CTRL_GET_KTLS_SEND, 0, NULL);
    CHECK(recbio_ctrl_count(rec, BIO_CTRL_GET_KTLS_SEND) == 1, "ctrl count");
end:
    BIO_free_all(rec);
}

static void test_helpers_gatherbio_holds_until_flush(void)
{
    BIO *g = gather_bio_new(), *mem = BIO_new(BIO_s_mem());
    char buf[32];

    if (!CHECK(g != NULL && mem != NULL, "allocation")) {
        BIO_free(mem);
        goto end;
    }
    BIO_push(g, mem);
    CHECK(BIO_write(g, "abc", 3) == 3 && BIO_puts(g, "def") == 3, "writes");
    CHECK(BIO_pending(mem) == 0 && BIO_wpending(g) == 6,
          "written data passed before the flush");
    CHECK(BIO_flush(g) == 1 && BIO_pending(mem) == 6
              && gather_bio_flushes(g) == 1,
          "flush");
    CHECK(BIO_read(g, buf, sizeof(buf)) == 6 && memcmp(buf, "abcdef", 6) == 0,
          "reads pass through");
end:
    BIO_free_all(g);
}

static void test_helpers_payload_check(void)
{
    PAYLOAD a, b;
    char why[512];

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    if (!CHECK(payload_init(&a, 10000, 9) && payload_init(&b, 10000, 9),
               "payloads"))
        goto end;
    CHECK(payload_check(&a, b.data, b.len, why, sizeof(why)), "%s", why);
    b.data[1234] ^= 0x80;
    CHECK(!payload_check(&a, b.data, b.len, why, sizeof(why))
              && strstr(why, "offset 1234") != NULL,
          "a flipped byte: %s", why);
    CHECK(!payload_check(&a, a.data, a.len - 1, why, sizeof(why)),
          "a missing byte passed");
end:
    payload_free(&a);
    payload_free(&b);
}

static int verify_leaf(int kind, const char *host, const char *check_host)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *sctx = X509_STORE_CTX_new();
    X509 *cert;
    EVP_PKEY *key;
    int err = -1;

    if (store == NULL || sctx == NULL || !certs_leaf(host, kind, &cert, &key)
        || X509_STORE_add_cert(store, certs_root()) != 1
        || !X509_STORE_CTX_init(sctx, store, cert, NULL))
        goto end;
    if (check_host != NULL)
        X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(sctx), check_host,
                                    0);
    err = X509_verify_cert(sctx) == 1 ? X509_V_OK
                                      : X509_STORE_CTX_get_error(sctx);
end:
    X509_STORE_CTX_free(sctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return err;
}

static void test_helpers_certs(void)
{
    X509 *c1, *c2;
    EVP_PKEY *k1, *k2;
    int e;

    CHECK(certs_leaf("same.test", CERTS_LEAF_GOOD, &c1, &k1)
              && certs_leaf("same.test", CERTS_LEAF_GOOD, &c2, &k2) && c1 == c2
              && k1 == k2,
          "leaves are not cached");
    e = verify_leaf(CERTS_LEAF_GOOD, "good.test", "good.test");
    CHECK(e == X509_V_OK, "good leaf: %d", e);
    e = verify_leaf(CERTS_LEAF_GOOD, "good.test", "other.test");
    CHECK(e == X509_V_ERR_HOSTNAME_MISMATCH, "host name check: %d", e);
    e = verify_leaf(CERTS_LEAF_EXPIRED, "old.test", NULL);
    CHECK(e == X509_V_ERR_CERT_HAS_EXPIRED, "expired leaf: %d", e);
    e = verify_leaf(CERTS_LEAF_FOREIGN, "foreign.test", NULL);
    CHECK(e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
          "leaf of the unrelated CA: %d", e);
}

int register_helpers_suite(void)
{
    CU_pSuite s = CU_add_suite("helpers", unit_suite_init, unit_suite_cleanup);

    return s != NULL
        && CU_add_test(s, "pump_detects_deadlock",
                       test_helpers_pump_detects_deadlock)
        != NULL
        && CU_add_test(s, "pump_detects_wrong_data",
                       test_helpers_pump_detects_wrong_data)
        != NULL
        && CU_add_test(s, "faultbio", test_helpers_faultbio) != NULL
        && CU_add_test(s, "recbio_parses_records",
                       test_helpers_recbio_parses_records)
        != NULL
        && CU_add_test(s, "gatherbio_holds_until_flush",
                       test_helpers_gatherbio_holds_until_flush)
        != NULL
        && CU_add_test(s, "payload_check", test_helpers_payload_check) != NULL
        && CU_add_test(s, "certs", test_helpers_certs) != NULL;
}
