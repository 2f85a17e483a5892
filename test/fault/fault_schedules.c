/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * fault-schedules: seeded fault-injection schedules against the onion BIO.
 *
 * Each schedule is a scenario (pushes with and without STARTTLS leftover,
 * pops started by either side or both, data both ways, layers split over
 * two onions) and a kind of fault:
 *   - noise: retries, one-byte and random short reads and writes at the
 *     transport and between onions.  Everything must arrive, byte for
 *     byte, and the wire must carry exactly the records of a clean run;
 *   - cut: the transport (or the stream of an inner layer) closes at a
 *     point taken from a clean run of the same scenario: before, during or
 *     after a handshake, during a pop, during a push with leftover data;
 *   - corrupt: one byte of a record of one layer is changed in flight.
 * For every one: no crash, no side stuck, every byte delivered is what the
 * peer sent, and a failure names the right layer (BIO_onion_get_error_layer
 * and an error of the bio_onion library on the queue).
 *
 * Usage: fault-schedules [-n COUNT] [-seed SEED] [-kind noise|cut|corrupt]
 *                        [-v]
 * (or FAULT_SCHEDULES and FAULT_SEED in the environment).  Schedule i uses
 * seed SEED + i; a failure prints the command that replays it alone.  The
 * random source is deterministic (detrand.c) and the certificates fixed
 * (fault_certs.c), so a replay puts the same bytes on the wire in any
 * process.  To look into one: FW_TRACE=1 prints every step of both sides,
 * FW_DEBUG=1 the state of every layer when the pump stalls (and the records
 * where two runs part), FW_TAPEDIR=DIR writes the tapped streams to DIR.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "bio_onion.h"
#include "fault_world.h"
#include "sha256.h"
#include "tap.h"
#include "testutil.h"

#define KIND_NOISE 0
#define KIND_CUT 1
#define KIND_CORRUPT 2
#define NKINDS 3
#define MAX_REPORTS 10

static const char *kind_names[NKINDS] = { "noise", "cut", "corrupt" };
static const char *label_names[FW_NLABELS] = { "data",
                                               "push/before-handshake",
                                               "push/in-handshake",
                                               "push/after-handshake",
                                               "push/starttls-leftover",
                                               "pop",
                                               "end" };

typedef struct stats_st {
    unsigned long passed[NKINDS], failed[NKINDS];
    unsigned long cut_labels[FW_NLABELS];
    unsigned long cut_inner; /* cuts of an inner layer's stream */
    unsigned long cut_fired;
    unsigned long corrupt_level[FW_MAX_DEPTH];
    unsigned long corrupt_fired;
    unsigned long corrupt_types[256];
    unsigned long faulty_bytes, retries;
    int verbose;
} STATS;

typedef struct sched_st {
    uint64_t seed;
    int kind;
    FW_SCENARIO sc;
    FW_FAULTS f;
    FW_RUN clean, run;
    char fault_desc[1024];
    /* What the fault must be blamed on. */
    int expect_side;  /* the side where it was injected */
    int expect_layer; /* global layer for the first failure, or -1 */
} SCHED;

static int fail_msg(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_msg(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return 0;
}

static const char *outcome_name(int o)
{
    switch (o) {
    case FW_OUT_COMPLETED:
        return "completed";
    case FW_OUT_FAILED:
        return "failed";
    case FW_OUT_ENDED:
        return "ended";
    case FW_OUT_STUCK:
        return "STUCK";
    default:
        return "?";
    }
}

/* Rules for every run, clean or faulty. */
static int check_common(const SCHED *s, const FW_RUN *r, char *why, size_t len)
{
    int i;

    if (r->harness[0] != '\0')
        return fail_msg(why, len, "harness: %s", r->harness);
    for (i = 0; i < 2; i++) {
        const FW_SIDE_RESULT *x = &r->side[i];
        const char *name = i == FW_CLIENT ? "client" : "server";

        if (x->violation[0] != '\0')
            return fail_msg(why, len, "%s: %s", name, x->violation);
        if (x->outcome == FW_OUT_STUCK)
            return fail_msg(why, len, "%s is stuck: %s", name, x->state);
        if (!fw_check_prefix(&s->sc, i, r, why, len))
            return 0;
        if (x->ev_failed_mismatch > 0)
            return fail_msg(why, len,
                            "%s: a failed event named another layer than "
                            "BIO_onion_get_error_layer",
                            name);
        if (x->outcome == FW_OUT_FAILED && x->depth_at_end > 0) {
            if (x->err_layer == BIO_ONION_ERROR_NONE)
                return fail_msg(why, len,
                                "%s failed at depth %d but "
                                "BIO_onion_get_error_layer names nothing",
                                name, x->depth_at_end);
            if (x->onion_errors == 0)
                return fail_msg(why, len,
                                "%s failed at depth %d (error layer %d) with "
                                "no error of the bio_onion library on the "
                                "queue",
                                name, x->depth_at_end, x->err_layer);
            if (strstr(x->first_onion_error,
                       x->err_layer >= 0 ? "layer " : "transport")
                == NULL)
                return fail_msg(why, len,
                                "%s: error layer %d but the first bio_onion "
                                "error says: %s",
                                name, x->err_layer, x->first_onion_error);
        }
    }
    return 1;
}

/* Everything arrived: both streams complete, by SHA-256. */
static int check_complete(const SCHED *s, const FW_RUN *r, char *why,
                          size_t len)
{
    unsigned char a[SHA256_LEN], b[SHA256_LEN];
    char ha[SHA256_HEX_LEN], hb[SHA256_HEX_LEN];
    int i;

    if (!r->completed)
        return fail_msg(why, len, "%s: client %s, server %s",
                        r->stalled ? "deadlock (no progress, nothing failed)"
                                   : "did not complete",
                        outcome_name(r->side[0].outcome),
                        outcome_name(r->side[1].outcome));
    for (i = 0; i < 2; i++) {
        const FW_SIDE_RESULT *x = &r->side[i];
        const char *name = i == FW_CLIENT ? "client" : "server";

        if (!sha256(x->rx, x->rxlen, a)
            || !sha256(s->sc.out[1 - i], s->sc.outlen[1 - i], b))
            return fail_msg(why, len, "SHA-256 failed");
        if (x->rxlen != s->sc.outlen[1 - i] || memcmp(a, b, sizeof(a)) != 0) {
            sha256_hex(a, ha);
            sha256_hex(b, hb);
            return fail_msg(why, len,
                            "%s received %zu bytes (SHA-256 %s), the peer "
                            "sent %zu (SHA-256 %s)",
                            name, x->rxlen, ha, s->sc.outlen[1 - i], hb);
        }
        if (x->err_layer != BIO_ONION_ERROR_NONE || x->onion_errors > 0)
            return fail_msg(why, len,
                            "%s completed with error layer %d and %d "
                            "bio_onion errors (first: %s)",
                            name, x->err_layer, x->onion_errors,
                            x->first_onion_error);
        if (x->ev_popped != x->pops)
            return fail_msg(why, len, "%s: %d popped events for %d pops", name,
                            x->ev_popped, x->pops);
        if (x->ev_hs > x->pushes
            || (x->pops == x->pushes && x->ev_hs != x->pushes))
            return fail_msg(why, len,
                            "%s: %d handshake-done events for %d pushes", name,
                            x->ev_hs, x->pushes);
    }
    return 1;
}

/* With FW_DEBUG: the records (type:length) of the armed stretches. */
static void dump_records(const char *what, const FW_TAPE *t)
{
    size_t x = 0, n;

    fprintf(stderr, "%s:", what);
    while (x < t->len) {
        if (!t->armed[x]) {
            for (n = 0; x < t->len && !t->armed[x]; x++, n++)
                continue;
            fprintf(stderr, " [%zu plain]", n);
            continue;
        }
        if (x + 5 > t->len)
            break;
        n = ((size_t)t->data[x + 3] << 8) | t->data[x + 4];
        fprintf(stderr, " %u:%zu", t->data[x], n);
        x += 5 + n;
    }
    fprintf(stderr, "\n");
}

/*
 * The wire of a run with retries and short I/O is the wire of a clean run:
 * each side wrote exactly as many bytes to its transport.
 */
static int check_same_wire(const SCHED *s, char *why, size_t len)
{
    const FW_TAPE *a, *b;
    int i;

    /*
     * Without the final pops, whether the last handshake flights left
     * before the end depends on the interleaving.
     */
    if (!s->sc.final_pops)
        return 1;
    for (i = 0; i < 2; i++) {
        a = &s->clean.tape[i][0][TAP_WRITE];
        b = &s->run.tape[i][0][TAP_WRITE];
        if (a->len != b->len) {
            /*
             * Say where they part: the first record (in the stretches where
             * layer 0 lived) whose header differs, or the plain bytes.
             */
            size_t x = 0, y = 0, n = 0, lx, ly;

            while (x < a->len && y < b->len) {
                if (!a->armed[x] || !b->armed[y]) {
                    if (a->armed[x] != b->armed[y])
                        break;
                    x++;
                    y++;
                    continue;
                }
                if (x + 5 > a->len || y + 5 > b->len
                    || memcmp(a->data + x, b->data + y, 5) != 0)
                    break;
                lx = ((size_t)a->data[x + 3] << 8) | a->data[x + 4];
                ly = ((size_t)b->data[y + 3] << 8) | b->data[y + 4];
                x += 5 + lx;
                y += 5 + ly;
                n++;
            }
            if (getenv("FW_DEBUG") != NULL) {
                dump_records("clean", a);
                dump_records("faulty", b);
            }
            return fail_msg(
                why, len,
                "the %s wrote %zu bytes to its transport with "
                "faults, %zu in the clean run; they part at "
                "record %zu, offset %zu (type %u length %u in "
                "the clean run, type %u length %u with faults)",
                i == 0 ? "client" : "server", b->len, a->len, n, x,
                x < a->len ? a->data[x] : 0,
                x + 5 <= a->len
                    ? (unsigned)((a->data[x + 3] << 8) | a->data[x + 4])
                    : 0,
                y < b->len ? b->data[y] : 0,
                y + 5 <= b->len
                    ? (unsigned)((b->data[y + 3] << 8) | b->data[y + 4])
                    : 0);
        }
    }
    return 1;
}

/*
 * The failure rules of a fatal fault.  The first side to fail names the
 * layer where the fault was.  Its peer then fails too: on the end of the
 * transport (-1), or on the fatal alert that the failing layer sent, which
 * arrives on the same layer (layer 0 when the transport failed under it).
 */
static int check_blame(const SCHED *s, char *why, size_t len)
{
    const FW_RUN *r = &s->run;
    int alert_layer = s->expect_layer < 0 ? 0 : s->expect_layer;
    int i, first = -1;

    for (i = 0; i < 2; i++)
        if ((r->side[i].outcome == FW_OUT_FAILED
             || r->side[i].outcome == FW_OUT_ENDED)
            && (first < 0 || r->side[i].fail_order < r->side[first].fail_order))
            first = i;
    if (first >= 0 && r->side[first].outcome == FW_OUT_FAILED
        && r->side[first].depth_at_end > 0
        && r->side[first].err_layer != s->expect_layer)
        return fail_msg(
            why, len,
            "the first side to fail (%s) names layer %d, the "
            "fault was at %s %d",
            first == 0 ? "client" : "server", r->side[first].err_layer,
            s->expect_layer < 0 ? "the transport" : "layer", s->expect_layer);
    for (i = 0; i < 2; i++) {
        int e = r->side[i].err_layer;

        if (i == first || e == BIO_ONION_ERROR_NONE
            || e == BIO_ONION_ERROR_TRANSPORT || e == alert_layer)
            continue;
        return fail_msg(why, len,
                        "%s names layer %d after its peer failed; the fault "
                        "was at %s %d",
                        i == 0 ? "client" : "server", e,
                        s->expect_layer < 0 ? "the transport" : "layer",
                        s->expect_layer);
    }
    return 1;
}

static void noise(uint64_t *rng, FAULT_CONFIG *c, int short_writes)
{
    static const unsigned int permille[] = { 0, 50, 200, 500 };

    c->read_retry_permille = permille[test_rand_below(rng, 4)];
    c->write_retry_permille = permille[test_rand_below(rng, 4)];
    c->short_read = (int)test_rand_below(rng, 3);
    c->short_write =
        short_writes ? (int)test_rand_below(rng, 3) : FAULT_SHORT_NONE;
}

static void add_noise(SCHED *s, uint64_t *rng)
{
    int i;

    for (i = 0; i < 2; i++) {
        if (test_rand_below(rng, 4) != 0)
            noise(rng, &s->f.tr[i], 1);
        /*
         * Never short writes between onions: a retried write must offer at
         * least the bytes the onion below already took (as with SSL_write),
         * and the fault BIO shortens every call at random, retries too.
         */
        if (test_rand_below(rng, 2) != 0)
            noise(rng, &s->f.mid[i], 0);
    }
}

static int tap_level(const SCHED *s, int side, int tap)
{
    return tap == 0 ? 0 : s->sc.split[side];
}

static FAULT_CONFIG *fault_at(SCHED *s, int side, int tap)
{
    return tap == 0 ? &s->f.tr[side] : &s->f.mid[side];
}

/* Picks a point in time of the clean run to cut the transport at. */
static int plan_cut(SCHED *s, uint64_t *rng, STATS *st, char *why, size_t len)
{
    const FW_RUN *c = &s->clean;
    FAULT_CONFIG *fc;
    size_t n = c->nsnaps, i, k, lo[2], hi[2], off[2];
    int side, tap, mode, d, label;

    if (n == 0)
        return fail_msg(why, len, "clean run recorded no snapshots");
    side = (int)test_rand_below(rng, 2);
    tap = s->sc.split[side] > 0 && test_rand_below(rng, 3) == 0;
    if (test_rand_below(rng, 2) == 0) {
        i = test_rand_below(rng, n);
    } else {
        /* Near a change of phase or handshake state: the edges. */
        size_t edges = 0;

        for (k = 1; k < n; k++)
            edges += c->snaps[k].label != c->snaps[k - 1].label
                || c->snaps[k].phase != c->snaps[k - 1].phase;
        i = test_rand_below(rng, n);
        if (edges > 0) {
            size_t want = test_rand_below(rng, edges);

            for (k = 1; k < n; k++)
                if ((c->snaps[k].label != c->snaps[k - 1].label
                     || c->snaps[k].phase != c->snaps[k - 1].phase)
                    && want-- == 0)
                    break;
            i = k - 1 + test_rand_below(rng, 3);
            if (i >= n)
                i = n - 1;
        }
    }
    label = c->snaps[i].label;
    for (d = 0; d < 2; d++) {
        lo[d] = c->snaps[i].off[side][tap][d];
        hi[d] = i + 1 < n ? c->snaps[i + 1].off[side][tap][d] : lo[d];
        off[d] = lo[d]
            + (hi[d] > lo[d] ? test_rand_below(rng, hi[d] - lo[d] + 1) : 0);
    }
    mode = (int)test_rand_below(rng, 3);
    fc = fault_at(s, side, tap);
    if (mode != 1)
        fc->read_cutoff = (long)off[TAP_READ];
    if (mode != 0)
        fc->write_cutoff = (long)off[TAP_WRITE];
    s->expect_side = side;
    s->expect_layer =
        tap == 0 ? BIO_ONION_ERROR_TRANSPORT : tap_level(s, side, tap);
    st->cut_labels[label]++;
    st->cut_inner += tap != 0;
    snprintf(s->fault_desc, sizeof(s->fault_desc),
             "cut the %s's %s (level %d) at phase %d (%s): %s%s%s, read "
             "cut-off %ld, write cut-off %ld",
             side == 0 ? "client" : "server",
             tap == 0 ? "transport" : "split stream", tap_level(s, side, tap),
             c->snaps[i].phase, label_names[label],
             mode != 1 ? "reads end" : "", mode == 2 ? " and " : "",
             mode != 0 ? "writes fail" : "", fc->read_cutoff, fc->write_cutoff);
    return 1;
}

typedef struct rec_ref_st {
    int side, tap, dir;
    size_t body, len;
    unsigned char type;
} REC_REF;

/* Finds the records of every armed stretch of every tap of the clean run. */
static int plan_corrupt(SCHED *s, uint64_t *rng, STATS *st, char *why,
                        size_t len)
{
    REC_REF *recs = NULL, *rr;
    size_t nrec = 0, cap = 0, i, rl;
    int side, tap, dir, ok = 0;
    FAULT_CONFIG *fc;

    for (side = 0; side < 2; side++)
        for (tap = 0; tap < 2; tap++)
            for (dir = 0; dir < 2; dir++) {
                const FW_TAPE *t = &s->clean.tape[side][tap][dir];

                for (i = 0; i < t->len;) {
                    if (!t->armed[i]) {
                        i++;
                        continue;
                    }
                    if (i + 5 > t->len || !t->armed[i + 4]) {
                        fail_msg(why, len,
                                 "clean run: a partial record header at "
                                 "offset %zu of the %s tap %d %s",
                                 i, side == 0 ? "client" : "server", tap,
                                 dir == TAP_READ ? "read" : "write");
                        goto end;
                    }
                    rl = ((size_t)t->data[i + 3] << 8) | t->data[i + 4];
                    if (t->data[i] < 20 || t->data[i] > 24
                        || i + 5 + rl > t->len || !t->armed[i + 4 + rl]) {
                        fail_msg(why, len,
                                 "clean run: no TLS record at offset %zu of "
                                 "the %s tap %d %s (type %u, length %zu)",
                                 i, side == 0 ? "client" : "server", tap,
                                 dir == TAP_READ ? "read" : "write", t->data[i],
                                 rl);
                        goto end;
                    }
                    if (rl > 0) {
                        if (nrec == cap) {
                            cap = cap == 0 ? 64 : cap * 2;
                            rr = realloc(recs, cap * sizeof(*rr));
                            if (rr == NULL) {
                                fail_msg(why, len, "out of memory");
                                goto end;
                            }
                            recs = rr;
                        }
                        rr = &recs[nrec++];
                        rr->side = side;
                        rr->tap = tap;
                        rr->dir = dir;
                        rr->body = i + 5;
                        rr->len = rl;
                        rr->type = t->data[i];
                    }
                    i += 5 + rl;
                }
            }
    if (nrec == 0) {
        fail_msg(why, len, "clean run: no record to corrupt");
        goto end;
    }
    rr = &recs[test_rand_below(rng, nrec)];
    fc = fault_at(s, rr->side, rr->tap);
    i = rr->body + test_rand_below(rng, rr->len);
    if (rr->dir == TAP_READ)
        fc->read_corrupt = (long)i;
    else
        fc->write_corrupt = (long)i;
    fc->corrupt_mask = (unsigned char)(1 + test_rand_below(rng, 255));
    s->expect_side = rr->side;
    s->expect_layer = tap_level(s, rr->side, rr->tap);
    st->corrupt_level[s->expect_layer]++;
    st->corrupt_types[rr->type]++;
    snprintf(s->fault_desc, sizeof(s->fault_desc),
             "corrupt (xor 0x%02x) the %s's %s byte %zu (level %d, record "
             "type %u of %zu bytes, body offset %zu)",
             fc->corrupt_mask, rr->side == 0 ? "client" : "server",
             rr->dir == TAP_READ ? "read" : "written", i, s->expect_layer,
             rr->type, rr->len, i - rr->body);
    ok = 1;
end:
    free(recs);
    return ok;
}

static void report(const SCHED *s, unsigned long index, const char *why,
                   const char *argv0)
{
    char desc[2048];
    int i;

    fw_scenario_describe(&s->sc, desc, sizeof(desc));
    printf("FAIL: schedule %lu (%s), seed 0x%016llx: %s\n", index,
           kind_names[s->kind], (unsigned long long)s->seed, why);
    printf("  scenario: %s\n", desc);
    printf("  fault: %s\n", s->fault_desc[0] != '\0' ? s->fault_desc : "none");
    if (s->run.stall[0] != '\0')
        printf("  stalled: %s\n", s->run.stall);
    for (i = 0; i < 2; i++) {
        const FW_SIDE_RESULT *x = &s->run.side[i];

        printf("  %s: %s (order %d), error layer %d (lo %d, hi %d), depth %d, "
               "phase %d, received %zu, %d pushes, %d pops, events hs %d "
               "popped %d failed %d\n    %s\n    first bio_onion error: %s\n"
               "    error queue:%s\n",
               i == 0 ? "client" : "server", outcome_name(x->outcome),
               x->fail_order, x->err_layer, x->err_lo, x->err_hi,
               x->depth_at_end, x->phase, x->rxlen, x->pushes, x->pops,
               x->ev_hs, x->ev_popped, x->ev_failed, x->state,
               x->first_onion_error[0] != '\0' ? x->first_onion_error
                                               : "(none)",
               x->errlog[0] != '\0' ? x->errlog : " (empty)");
    }
    printf("  replay: %s -seed 0x%016llx -n 1 -kind %s -v\n", argv0,
           (unsigned long long)s->seed, kind_names[s->kind]);
}

static int run_schedule(SCHED *s, uint64_t seed, int force_kind, STATS *st,
                        char *why, size_t len)
{
    uint64_t rng = seed ^ 0xA5A5A5A5DEADBEEFULL;
    uint64_t rng_seed = seed * 31 + 7;
    int final_pops;

    memset(s, 0, sizeof(*s));
    s->seed = seed;
    /* Drawn even when forced, so that -kind replays the same schedule. */
    s->kind = (int)test_rand_below(&rng, NKINDS);
    if (force_kind >= 0)
        s->kind = force_kind;
    s->expect_layer = BIO_ONION_ERROR_NONE;
    final_pops = s->kind == KIND_CORRUPT || test_rand_below(&rng, 4) != 0;
    if (!fw_scenario_make(&s->sc, seed, final_pops))
        return fail_msg(why, len, "cannot make the scenario");
    fw_faults_none(&s->f, seed);

    /* The clean run: the reference, and a test of its own. */
    if (!fw_run(&s->sc, &s->f, rng_seed, 1, &s->clean))
        return fail_msg(why, len, "clean run: harness: %s", s->clean.harness);
    if (!check_common(s, &s->clean, why, len)
        || !check_complete(s, &s->clean, why, len)) {
        s->run = s->clean;
        memset(&s->clean, 0, sizeof(s->clean));
        strcat(why, " (in the clean run)");
        return 0;
    }

    switch (s->kind) {
    case KIND_NOISE:
        add_noise(s, &rng);
        break;
    case KIND_CUT:
        if (test_rand_below(&rng, 2) == 0)
            add_noise(s, &rng);
        if (!plan_cut(s, &rng, st, why, len))
            return 0;
        break;
    default:
        if (test_rand_below(&rng, 2) == 0)
            add_noise(s, &rng);
        if (!plan_corrupt(s, &rng, st, why, len))
            return 0;
        break;
    }
    {
        size_t used = strlen(s->fault_desc);

        snprintf(s->fault_desc + used, sizeof(s->fault_desc) - used,
                 "%snoise: transport retries r%u/w%u short r%d/w%d and "
                 "r%u/w%u short r%d/w%d; split r%u/w%u short r%d/w%d and "
                 "r%u/w%u short r%d/w%d",
                 used > 0 ? "; " : "", s->f.tr[0].read_retry_permille,
                 s->f.tr[0].write_retry_permille, s->f.tr[0].short_read,
                 s->f.tr[0].short_write, s->f.tr[1].read_retry_permille,
                 s->f.tr[1].write_retry_permille, s->f.tr[1].short_read,
                 s->f.tr[1].short_write, s->f.mid[0].read_retry_permille,
                 s->f.mid[0].write_retry_permille, s->f.mid[0].short_read,
                 s->f.mid[0].short_write, s->f.mid[1].read_retry_permille,
                 s->f.mid[1].write_retry_permille, s->f.mid[1].short_read,
                 s->f.mid[1].short_write);
    }

    if (!fw_run(&s->sc, &s->f, rng_seed, s->kind == KIND_NOISE, &s->run))
        return fail_msg(why, len, "harness: %s", s->run.harness);
    st->faulty_bytes +=
        s->run.tr_stats[0].bytes_read + s->run.tr_stats[1].bytes_read;
    st->retries += s->run.tr_stats[0].read_retries
        + s->run.tr_stats[0].write_retries + s->run.tr_stats[1].read_retries
        + s->run.tr_stats[1].write_retries;
    if (!check_common(s, &s->run, why, len))
        return 0;
    switch (s->kind) {
    case KIND_NOISE:
        return check_complete(s, &s->run, why, len)
            && check_same_wire(s, why, len);
    case KIND_CUT: {
        const FAULT_STATS *fs = s->expect_layer == BIO_ONION_ERROR_TRANSPORT
            ? &s->run.tr_stats[s->expect_side]
            : &s->run.mid_stats[s->expect_side];
        const FAULT_CONFIG *fc = s->expect_layer == BIO_ONION_ERROR_TRANSPORT
            ? &s->f.tr[s->expect_side]
            : &s->f.mid[s->expect_side];

        if ((fc->read_cutoff >= 0
             && fs->bytes_read >= (unsigned long long)fc->read_cutoff)
            || (fc->write_cutoff >= 0
                && fs->bytes_written >= (unsigned long long)fc->write_cutoff))
            st->cut_fired++;
        if (s->run.completed)
            return check_complete(s, &s->run, why, len);
        return check_blame(s, why, len);
    }
    default: {
        const FW_SIDE_RESULT *a = &s->run.side[0], *b = &s->run.side[1];
        int fired = s->run.tr_stats[0].corrupted_read
            || s->run.tr_stats[0].corrupted_write
            || s->run.tr_stats[1].corrupted_read
            || s->run.tr_stats[1].corrupted_write
            || s->run.mid_stats[0].corrupted_read
            || s->run.mid_stats[0].corrupted_write
            || s->run.mid_stats[1].corrupted_read
            || s->run.mid_stats[1].corrupted_write;

        if (!fired)
            return fail_msg(why, len,
                            "the corrupted byte was never passed (the "
                            "faulty run did not follow the clean one)");
        st->corrupt_fired++;
        if (s->run.completed)
            return fail_msg(why, len,
                            "a corrupted record went unnoticed: both sides "
                            "completed");
        if (a->err_layer != s->expect_layer && b->err_layer != s->expect_layer)
            return fail_msg(why, len,
                            "no side names layer %d (client %d, server %d)",
                            s->expect_layer, a->err_layer, b->err_layer);
        return check_blame(s, why, len);
    }
    }
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [-n COUNT] [-seed SEED] [-kind noise|cut|corrupt] "
            "[-v]\n",
            argv0);
}

int main(int argc, char **argv)
{
    unsigned long count = test_env_ulong("FAULT_SCHEDULES", 1000);
    uint64_t base = (uint64_t)test_env_ulong("FAULT_SEED", 1);
    unsigned long i, npass = 0, nfail = 0, reported = 0;
    int force_kind = -1, a, k, ok;
    STATS st;
    SCHED *s;
    char why[1024];
    clock_t t0 = clock();
    time_t w0 = time(NULL);

    memset(&st, 0, sizeof(st));
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "-n") == 0 && a + 1 < argc) {
            count = strtoul(argv[++a], NULL, 0);
        } else if (strcmp(argv[a], "-seed") == 0 && a + 1 < argc) {
            base = (uint64_t)strtoull(argv[++a], NULL, 0);
        } else if (strcmp(argv[a], "-kind") == 0 && a + 1 < argc) {
            a++;
            for (k = 0; k < NKINDS; k++)
                if (strcmp(argv[a], kind_names[k]) == 0)
                    force_kind = k;
            if (force_kind < 0) {
                usage(argv[0]);
                return 2;
            }
        } else if (strcmp(argv[a], "-v") == 0) {
            st.verbose = 1;
        } else {
            usage(argv[0]);
            return 2;
        }
    }
    if ((s = calloc(1, sizeof(*s))) == NULL || !fw_init()) {
        fprintf(stderr, "fault-schedules: set-up failed\n");
        ERR_print_errors_fp(stderr);
        free(s);
        return 1;
    }
    printf("fault-schedules: %lu schedules from seed 0x%llx\n", count,
           (unsigned long long)base);
    for (i = 0; i < count; i++) {
        why[0] = '\0';
        ok = run_schedule(s, base + i, force_kind, &st, why, sizeof(why));
        if (ok) {
            npass++;
            st.passed[s->kind]++;
            if (st.verbose) {
                char desc[2048];

                fw_scenario_describe(&s->sc, desc, sizeof(desc));
                printf("ok: schedule %lu (%s) seed 0x%016llx: %s\n  %s\n", i,
                       kind_names[s->kind], (unsigned long long)s->seed,
                       s->fault_desc[0] != '\0' ? s->fault_desc : "no fault",
                       desc);
            }
        } else {
            nfail++;
            st.failed[s->kind]++;
            if (reported++ < MAX_REPORTS || st.verbose)
                report(s, i, why, argv[0]);
            else
                printf("FAIL: schedule %lu (%s), seed 0x%016llx: %s\n", i,
                       kind_names[s->kind], (unsigned long long)s->seed, why);
        }
        fw_run_free(&s->clean);
        fw_run_free(&s->run);
        fw_scenario_free(&s->sc);
    }
    printf("kinds:");
    for (k = 0; k < NKINDS; k++)
        printf(" %s %lu/%lu", kind_names[k], st.passed[k],
               st.passed[k] + st.failed[k]);
    printf("\ncut points (%lu fired, %lu in an inner layer's stream):",
           st.cut_fired, st.cut_inner);
    for (k = 0; k < FW_NLABELS; k++)
        printf(" %s %lu%s", label_names[k], st.cut_labels[k],
               k + 1 < FW_NLABELS ? "," : "");
    printf("\ncorruptions (%lu fired): layer 0 %lu, layer 1 %lu, layer 2 %lu;"
           " record types: handshake %lu, change_cipher_spec %lu, alert %lu, "
           "application_data %lu\n",
           st.corrupt_fired, st.corrupt_level[0], st.corrupt_level[1],
           st.corrupt_level[2], st.corrupt_types[22], st.corrupt_types[20],
           st.corrupt_types[21], st.corrupt_types[23]);
    printf("transport bytes read under faults %lu, injected retries %lu; "
           "%.1f s CPU, %ld s wall\n",
           st.faulty_bytes, st.retries, (double)(clock() - t0) / CLOCKS_PER_SEC,
           (long)(time(NULL) - w0));
    printf("fault-schedules: %lu passed, %lu failed\n", npass, nfail);
    free(s);
    fw_cleanup();
    return nfail == 0 ? 0 : 1;
}
