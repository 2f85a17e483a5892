/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * Scenarios of the fault world: from a seed, the phases (data, pushes with
 * or without STARTTLS, pops started by either side or both), the TLS
 * configuration of each level, the split of each side's layers over two
 * onions, and the bytes each side sends.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bio_onion.h"
#include "fault_world.h"
#include "testutil.h"

/* Scenarios. */

typedef struct gen_st {
    FW_SCENARIO *sc;
    uint64_t rng;
    size_t cap[2];
} GEN;

static int gen_bytes(GEN *g, int side, size_t n)
{
    FW_SCENARIO *sc = g->sc;
    size_t i;

    if (!fw_grow(&sc->out[side], &g->cap[side], sc->outlen[side] + n))
        return 0;
    for (i = 0; i < n; i++)
        sc->out[side][sc->outlen[side]++] = (unsigned char)test_rand(&g->rng);
    return 1;
}

/* Appends |n| bytes of data to |side|'s stream: frames for the client. */
static int gen_data(GEN *g, int side, size_t n)
{
    FW_SCENARIO *sc = g->sc;
    size_t flen;
    unsigned char *h;

    if (side == FW_SERVER)
        return gen_bytes(g, side, n);
    while (n > 0) {
        flen = 1 + test_rand_below(&g->rng, n < 4000 ? n : 4000);
        if (!fw_grow(&sc->out[side], &g->cap[side],
                     sc->outlen[side] + FW_FRAME_HDR))
            return 0;
        h = sc->out[side] + sc->outlen[side];
        h[0] = FW_FRAME_DATA;
        h[1] = (unsigned char)(flen >> 8);
        h[2] = (unsigned char)flen;
        sc->outlen[side] += FW_FRAME_HDR;
        if (!gen_bytes(g, side, flen))
            return 0;
        n -= flen;
    }
    return 1;
}

/*
 * How much data a side sends in a phase.  Tiny writes make one record per
 * byte per layer: then the amounts stay small, to keep the run short.
 */
static size_t gen_amount(GEN *g)
{
    size_t big = g->sc->max_write <= 16 ? 2000 : 16000;

    switch (test_rand_below(&g->rng, 6)) {
    case 0:
        return 0;
    case 1:
    case 2:
        return 1 + test_rand_below(&g->rng, 100);
    case 3:
    case 4:
        return 1 + test_rand_below(&g->rng, 2000);
    default:
        return 1 + test_rand_below(&g->rng, big);
    }
}

static FW_PHASE *gen_phase(GEN *g, FW_PHASE_KIND kind)
{
    FW_SCENARIO *sc = g->sc;
    FW_PHASE *p;

    if (sc->nphases >= FW_MAX_PHASES)
        return NULL;
    p = &sc->ph[sc->nphases++];
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    return p;
}

static void gen_close(GEN *g, FW_PHASE *p)
{
    p->out_end[0] = g->sc->outlen[0];
    p->out_end[1] = g->sc->outlen[1];
}

static int gen_data_phase(GEN *g, int depth)
{
    FW_PHASE *p = gen_phase(g, FW_DATA);

    if (p == NULL)
        return 1; /* the scenario is long enough */
    p->level = depth;
    if (!gen_data(g, FW_CLIENT, gen_amount(g))
        || !gen_data(g, FW_SERVER, gen_amount(g)))
        return 0;
    gen_close(g, p);
    return 1;
}

static int gen_push(GEN *g, int level)
{
    FW_SCENARIO *sc = g->sc;
    FW_PHASE *p = gen_phase(g, FW_PUSH);
    unsigned char *h;

    if (p == NULL)
        return 0;
    p->level = level;
    p->inband = test_rand_below(&g->rng, 5) != 0;
    p->explicit_hs = (int)test_rand_below(&g->rng, 2);
    if (p->inband) {
        if (!fw_grow(&sc->out[0], &g->cap[0], sc->outlen[0] + FW_FRAME_HDR))
            return 0;
        h = sc->out[0] + sc->outlen[0];
        h[0] = FW_FRAME_STARTTLS;
        h[1] = h[2] = 0;
        sc->outlen[0] += FW_FRAME_HDR;
    }
    gen_close(g, p);
    return 1;
}

static int gen_pop(GEN *g, int level)
{
    FW_PHASE *p = gen_phase(g, FW_POP);

    if (p == NULL)
        return 0;
    p->level = level;
    p->initiator = (int)test_rand_below(&g->rng, 3);
    /* The side that did not start the close may still send data. */
    if (p->initiator != 2 && test_rand_below(&g->rng, 2) == 0
        && !gen_data(g, 1 - p->initiator, 1 + test_rand_below(&g->rng, 2000)))
        return 0;
    gen_close(g, p);
    return 1;
}

int fw_scenario_make(FW_SCENARIO *sc, uint64_t seed, int final_pops)
{
    static const size_t pair_sizes[] = { 64, 512, 4096, 0 };
    static const size_t writes[] = { 1, 16, 300, 5000, 20000, 70000 };
    static const size_t reads[] = { 1, 7, 512, 16384, 65536 };
    GEN g;
    int depth = 0, moves, i, s;

    memset(sc, 0, sizeof(*sc));
    memset(&g, 0, sizeof(g));
    g.sc = sc;
    g.rng = seed;
    sc->seed = seed;
    sc->final_pops = final_pops;
    sc->max_depth = 1 + (int)test_rand_below(&g.rng, FW_MAX_DEPTH);
    for (i = 0; i < FW_MAX_DEPTH; i++)
        sc->cfg[i] = (int)test_rand_below(&g.rng, fw_ncfg());
    for (s = 0; s < 2; s++) {
        if (sc->max_depth >= 2 && test_rand_below(&g.rng, 2) == 0)
            sc->split[s] =
                1 + (int)test_rand_below(&g.rng, (uint64_t)sc->max_depth - 1);
        sc->flags[s] = test_rand_below(&g.rng, 4) == 0 ? BIO_ONION_AUTO_POP : 0;
    }
    sc->pair_size = pair_sizes[test_rand_below(&g.rng, 4)];
    sc->max_write = writes[test_rand_below(&g.rng, 6)];
    sc->max_read = reads[test_rand_below(&g.rng, 5)];

    if (test_rand_below(&g.rng, 2) == 0 && !gen_data_phase(&g, 0))
        goto err;
    moves = 2 + (int)test_rand_below(&g.rng, 6);
    for (i = 0; i < moves; i++) {
        int up = depth == 0
            || (depth < sc->max_depth && test_rand_below(&g.rng, 3) != 0);

        if (up) {
            if (!gen_push(&g, depth))
                goto err;
            depth++;
        } else {
            if (!gen_pop(&g, depth - 1))
                goto err;
            depth--;
        }
        if (test_rand_below(&g.rng, 10) < 7 && !gen_data_phase(&g, depth))
            goto err;
    }
    if (final_pops) {
        while (depth > 0) {
            if (!gen_pop(&g, depth - 1))
                goto err;
            depth--;
            if (test_rand_below(&g.rng, 3) == 0 && !gen_data_phase(&g, depth))
                goto err;
        }
    }
    return 1;
err:
    fw_scenario_free(sc);
    return 0;
}

void fw_scenario_free(FW_SCENARIO *sc)
{
    free(sc->out[0]);
    free(sc->out[1]);
    sc->out[0] = sc->out[1] = NULL;
    sc->outlen[0] = sc->outlen[1] = 0;
}

void fw_scenario_describe(const FW_SCENARIO *sc, char *buf, size_t len)
{
    size_t used;
    int i;

    snprintf(buf, len,
             "max depth %d, layers [%s | %s | %s], split client %d server %d,"
             " auto-pop client %d server %d, pair %zu, max write %zu, max "
             "read %zu, streams %zu/%zu bytes; phases:",
             sc->max_depth, fw_cfg_name(sc->cfg[0]), fw_cfg_name(sc->cfg[1]),
             fw_cfg_name(sc->cfg[2]), sc->split[0], sc->split[1],
             (sc->flags[0] & BIO_ONION_AUTO_POP) != 0,
             (sc->flags[1] & BIO_ONION_AUTO_POP) != 0, sc->pair_size,
             sc->max_write, sc->max_read, sc->outlen[0], sc->outlen[1]);
    for (i = 0; i < sc->nphases; i++) {
        const FW_PHASE *p = &sc->ph[i];

        used = strlen(buf);
        if (used + 1 >= len)
            return;
        switch (p->kind) {
        case FW_DATA:
            snprintf(buf + used, len - used, " data@%d", p->level);
            break;
        case FW_PUSH:
            snprintf(buf + used, len - used, " push%d%s%s", p->level,
                     p->inband ? "(starttls)" : "(oob)",
                     p->explicit_hs ? "+hs" : "");
            break;
        case FW_POP:
            snprintf(buf + used, len - used, " pop%d(%s)", p->level,
                     p->initiator == 2
                         ? "both"
                         : (p->initiator == 0 ? "client" : "server"));
            break;
        }
    }
}

void fw_faults_none(FW_FAULTS *f, uint64_t seed)
{
    int i;

    for (i = 0; i < 2; i++) {
        fault_config_default(&f->tr[i], seed + 2 * (uint64_t)i);
        fault_config_default(&f->mid[i], seed + 2 * (uint64_t)i + 1);
    }
}
