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

#include "bio_onion.h"
#include "detrand.h"
#include "fault_certs.h"
#include "fault_side.h"
#include "fault_world.h"
#include "tap.h"
#include "testutil.h"

/* Rounds without a byte moved or a step taken before the pump gives up. */
#define FW_IDLE_MAX 400
/* A bound on a whole run, against a livelock that moves bytes forever. */
#define FW_ROUNDS_MAX 4000000UL

typedef struct fw_cfg_st {
    const char *name;
    int version;
    const char *suites;
    const char *ciphers;
    SSL_CTX *cctx;
    SSL_CTX *sctx;
} FW_CFG;

static FW_CFG cfgs[] = {
    { "TLSv1.3 AES-128-GCM", TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", NULL,
      NULL, NULL },
    { "TLSv1.3 CHACHA20-POLY1305", TLS1_3_VERSION,
      "TLS_CHACHA20_POLY1305_SHA256", NULL, NULL, NULL },
    { "TLSv1.3 AES-256-GCM", TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", NULL,
      NULL, NULL },
    { "TLSv1.2 ECDHE-ECDSA-AES128-GCM", TLS1_2_VERSION, NULL,
      "ECDHE-ECDSA-AES128-GCM-SHA256", NULL, NULL },
    { "TLSv1.2 ECDHE-ECDSA-CHACHA20", TLS1_2_VERSION, NULL,
      "ECDHE-ECDSA-CHACHA20-POLY1305", NULL, NULL },
    { "TLSv1.2 ECDHE-ECDSA-AES256-CBC-SHA384", TLS1_2_VERSION, NULL,
      "ECDHE-ECDSA-AES256-SHA384", NULL, NULL },
};
#define FW_NCFG ((int)(sizeof(cfgs) / sizeof(cfgs[0])))

static int set_versions(SSL_CTX *ctx, const FW_CFG *c)
{
    return SSL_CTX_set_min_proto_version(ctx, c->version)
        && SSL_CTX_set_max_proto_version(ctx, c->version)
        && (c->suites == NULL || SSL_CTX_set_ciphersuites(ctx, c->suites))
        && (c->ciphers == NULL || SSL_CTX_set_cipher_list(ctx, c->ciphers));
}

int fw_init(void)
{
    int i;

    if (!detrand_install())
        return 0;
    detrand_reset(0);
    for (i = 0; i < FW_NCFG; i++) {
        cfgs[i].cctx = SSL_CTX_new(TLS_client_method());
        cfgs[i].sctx = SSL_CTX_new(TLS_server_method());
        if (cfgs[i].cctx == NULL || cfgs[i].sctx == NULL
            || !set_versions(cfgs[i].cctx, &cfgs[i])
            || !set_versions(cfgs[i].sctx, &cfgs[i])
            || !fault_certs_configure(cfgs[i].cctx, cfgs[i].sctx))
            return 0;
    }
    return 1;
}

void fw_cleanup(void)
{
    int i;

    for (i = 0; i < FW_NCFG; i++) {
        SSL_CTX_free(cfgs[i].cctx);
        SSL_CTX_free(cfgs[i].sctx);
        cfgs[i].cctx = cfgs[i].sctx = NULL;
    }
}

int fw_ncfg(void)
{
    return FW_NCFG;
}

const char *fw_cfg_name(int cfg)
{
    return cfg >= 0 && cfg < FW_NCFG ? cfgs[cfg].name : "?";
}

SSL_CTX *fw_cfg_ctx(int cfg, int server)
{
    return server ? cfgs[cfg].sctx : cfgs[cfg].cctx;
}

/* Grows |*buf| (capacity |*cap|) to hold |need| bytes.  Returns 1 or 0. */
int fw_grow(unsigned char **buf, size_t *cap, size_t need)
{
    unsigned char *p;
    size_t c = *cap == 0 ? 4096 : *cap;

    if (need <= *cap)
        return 1;
    while (c < need)
        c *= 2;
    if ((p = realloc(*buf, c)) == NULL)
        return 0;
    *buf = p;
    *cap = c;
    return 1;
}

static int label_of(FW_WORLD *w)
{
    const FW_PHASE *ph;
    FW_SIDE *c = &w->s[0], *sv = &w->s[1];

    if (w->phase >= w->sc->nphases)
        return FW_LABEL_END;
    ph = &w->sc->ph[w->phase];
    switch (ph->kind) {
    case FW_DATA:
        return FW_LABEL_DATA;
    case FW_POP:
        return FW_LABEL_POP;
    case FW_PUSH:
        if (c->sub <= 1 && !c->done)
            return FW_LABEL_PUSH_PRE;
        if (ph->inband && ph->level == 0 && sv->sub <= 1 && !sv->done)
            return FW_LABEL_LEFTOVER;
        if (c->hs_done[ph->level] && sv->hs_done[ph->level])
            return FW_LABEL_PUSH_POST;
        return FW_LABEL_PUSH_HS;
    }
    return FW_LABEL_DATA;
}

static void snapshot(FW_WORLD *w)
{
    FW_RUN *r = w->r;
    FW_SNAP *sn;
    int i, d;

    if (!w->record)
        return;
    if (r->nsnaps == w->snapcap) {
        size_t cap = w->snapcap == 0 ? 256 : w->snapcap * 2;
        FW_SNAP *p = realloc(r->snaps, cap * sizeof(*p));

        if (p == NULL)
            return;
        r->snaps = p;
        w->snapcap = cap;
    }
    sn = &r->snaps[r->nsnaps++];
    sn->phase = w->phase;
    sn->label = label_of(w);
    for (i = 0; i < 2; i++)
        for (d = 0; d < 2; d++) {
            sn->off[i][0][d] = tap_len(w->s[i].ttr, d);
            sn->off[i][1][d] =
                w->s[i].tmid != NULL ? tap_len(w->s[i].tmid, d) : 0;
        }
}

/* A measure that grows whenever anything happens: bytes moved, steps taken. */
static unsigned long long moved(FW_WORLD *w)
{
    unsigned long long n = 0;
    int i;

    for (i = 0; i < 2; i++) {
        n += w->s[i].res->rxlen + w->s[i].woff + (unsigned)w->s[i].sub
            + (unsigned)w->s[i].done + (unsigned)w->s[i].res->pops
            + (unsigned)w->s[i].res->pushes;
        n += tap_len(w->s[i].ttr, TAP_READ) + tap_len(w->s[i].ttr, TAP_WRITE);
        if (w->s[i].tmid != NULL)
            n += tap_len(w->s[i].tmid, TAP_READ)
                + tap_len(w->s[i].tmid, TAP_WRITE);
    }
    return n;
}

/* Puts |b| on top of the side's chain; the chain owns it from then on. */
static int stack(FW_SIDE *s, BIO *b)
{
    if (b == NULL)
        return 0;
    BIO_push(b, s->top);
    s->top = b;
    return 1;
}

static int build_side(FW_WORLD *w, FW_SIDE *s, int id, BIO *pair,
                      const FW_FAULTS *f)
{
    const FW_SCENARIO *sc = w->sc;
    FW_SIDE_RESULT *res = &w->r->side[id];

    s->id = id;
    s->name = id == FW_CLIENT ? "client" : "server";
    s->w = w;
    s->res = res;
    s->pair = s->top = pair;
    s->split = sc->split[id];
    s->out = sc->out[id];
    s->wrng = sc->seed ^ (0x1000 + (uint64_t)id);
    s->rrng = sc->seed ^ (0x2000 + (uint64_t)id);
    res->err_layer = BIO_ONION_ERROR_NONE;
    if (!stack(s, s->ftr = fault_bio_new(&f->tr[id]))
        || !stack(s, s->ttr = tap_new()) || !stack(s, s->lo = BIO_new_onion()))
        return 0;
    if (s->split > 0
        && (!stack(s, s->fmid = fault_bio_new(&f->mid[id]))
            || !stack(s, s->tmid = tap_new())
            || !stack(s, s->hi = BIO_new_onion())))
        return 0;
    s->ev[0].s = s->ev[1].s = s;
    s->ev[1].hi = 1;
    BIO_onion_set_flags(s->lo, sc->flags[id]);
    BIO_onion_set_callback(s->lo, on_event, &s->ev[0]);
    if (s->hi != NULL) {
        BIO_onion_set_flags(s->hi, sc->flags[id]);
        BIO_onion_set_callback(s->hi, on_event, &s->ev[1]);
    }
    return 1;
}

/* Frees a chain built by build_side, whatever was built of it. */
static void free_side(FW_SIDE *s)
{
    BIO_free_all(s->top);
    s->top = NULL;
    free(s->leftover);
    s->leftover = NULL;
}

static void finish_side(FW_SIDE *s)
{
    FW_SIDE_RESULT *res = s->res;

    collect(s);
    res->err_lo = BIO_onion_get_error_layer(s->lo);
    res->err_hi =
        s->hi != NULL ? BIO_onion_get_error_layer(s->hi) : BIO_ONION_ERROR_NONE;
    if (!s->dead) {
        res->err_layer = global_error(s);
        res->depth_at_end = global_depth(s);
        res->phase = s->w->phase;
        if (res->outcome == 0)
            res->outcome = FW_OUT_STUCK;
        if (res->state[0] == '\0')
            describe_state(s, "stopped", 0);
    }
}

/*
 * Reads on every live side until each has stopped or nothing moves.
 * Returns the number of sides still live.
 */
static int drain(FW_WORLD *w)
{
    unsigned long idle = 0;
    unsigned long long before;
    int i, live;

    for (;;) {
        before = moved(w);
        live = 0;
        for (i = 0; i < 2; i++) {
            FW_SIDE *s = &w->s[i];
            int r;

            if (s->dead)
                continue;
            live++;
            detrand_select(s->id);
            /* An application finishes the write it started before it ends. */
            if (side_retry_write(s) < 0) {
                collect(s);
                continue;
            }
            r = side_read(s);
            if (getenv("FW_TRACE") != NULL)
                fprintf(stderr,
                        "%s drain: read %d, rx %zu depth %d+%d dead %d\n",
                        s->name, r, s->res->rxlen, s->depth_lo, s->depth_hi,
                        s->dead);
            /* A clean close of its innermost layer: pop it and go on. */
            if (r == 2)
                (void)side_pop(s, global_depth(s) - 1);
            collect(s);
        }
        if (live == 0)
            return 0;
        if (moved(w) == before)
            idle++;
        else
            idle = 0;
        if (idle > FW_IDLE_MAX)
            return live;
    }
}

/*
 * After a stall, the end of the connection as an application sees it: the
 * transport closes (a side that stopped has already closed its end, like
 * a FIN); each live side retries a write it had started and reads until it
 * ends.  A side that still waits
 * then sees its connection reset: reads end and writes fail.  A side that
 * waits even then is stuck: it cannot notice that its transport is gone.
 */
static void endgame(FW_WORLD *w, int any_dead)
{
    int i;

    for (i = 0; i < 2; i++)
        if (!any_dead)
            side_close(&w->s[i]);
    if (drain(w) == 0)
        return;
    for (i = 0; i < 2; i++)
        if (!w->s[i].dead)
            tap_reset(w->s[i].ttr);
    if (drain(w) == 0)
        return;
    for (i = 0; i < 2; i++)
        if (!w->s[i].dead) {
            describe_state(&w->s[i], "stuck after the transport was reset", 0);
            w->s[i].res->outcome = FW_OUT_STUCK;
            w->s[i].dead = 1;
        }
}

/* With FW_DEBUG set: the state of every layer when the pump stalls. */
static void debug_dump(FW_WORLD *w)
{
    int i, o, k, d;

    for (i = 0; i < 2; i++) {
        fprintf(stderr,
                "%s transport: %ld readable, %ld writable, %ld unread by the "
                "peer; flush returns %ld (retry %d)\n",
                w->s[i].name, (long)BIO_ctrl_pending(w->s[i].pair),
                (long)BIO_ctrl_get_write_guarantee(w->s[i].pair),
                (long)BIO_ctrl_wpending(w->s[i].pair),
                (long)BIO_flush(w->s[i].top), BIO_should_retry(w->s[i].top));
        for (o = 0; o < 2; o++) {
            BIO *b = o == 0 ? w->s[i].lo : w->s[i].hi;

            if (b == NULL)
                continue;
            d = BIO_onion_get_depth(b);
            fprintf(stderr,
                    "%s %s: depth %d, peer closed %d, pending %ld, wpending "
                    "%ld\n",
                    w->s[i].name, o == 0 ? "lo" : "hi", d,
                    BIO_onion_peer_closed(b), (long)BIO_pending(b),
                    (long)BIO_wpending(b));
            for (k = 0; k < d; k++) {
                SSL *ssl = NULL;

                BIO_onion_get_ssl(b, k, &ssl);
                fprintf(stderr,
                        "  layer %d: %s, init finished %d, shutdown %d, "
                        "pending %d, has pending %d, want %d\n",
                        k, SSL_get_version(ssl), SSL_is_init_finished(ssl),
                        SSL_get_shutdown(ssl), SSL_pending(ssl),
                        SSL_has_pending(ssl), SSL_want(ssl));
            }
        }
    }
}

static int nrun; /* recorded runs, to name tape files (FW_TAPEDIR) */

int fw_run(const FW_SCENARIO *sc, const FW_FAULTS *f, uint64_t rng_seed,
           int record, FW_RUN *r)
{
    FW_WORLD w;
    BIO *pa = NULL, *pb = NULL;
    unsigned long rounds = 0, idle = 0;
    unsigned long long before;
    int i, p, prog, ok = 0, any_dead;

    memset(r, 0, sizeof(*r));
    memset(&w, 0, sizeof(w));
    w.sc = sc;
    w.f = f;
    w.r = r;
    w.record = record;
    detrand_reset(rng_seed);
    ERR_clear_error();
    if (BIO_new_bio_pair(&pa, sc->pair_size, &pb, sc->pair_size) != 1) {
        snprintf(r->harness, sizeof(r->harness), "BIO_new_bio_pair failed");
        return 0;
    }
    if (!build_side(&w, &w.s[0], FW_CLIENT, pa, f)
        || !build_side(&w, &w.s[1], FW_SERVER, pb, f)) {
        snprintf(r->harness, sizeof(r->harness), "building the chains failed");
        if (w.s[1].top == NULL)
            BIO_free(pb);
        goto end;
    }

    for (p = 0; p <= sc->nphases; p++) {
        w.phase = p;
        for (i = 0; i < 2; i++) {
            w.s[i].sub = 0;
            w.s[i].done = 0;
            w.s[i].saw_starttls = 0;
        }
        idle = 0;
        for (;;) {
            before = moved(&w);
            prog = side_step(&w.s[0]);
            prog |= side_step(&w.s[1]);
            if (prog || moved(&w) != before) {
                idle = 0;
                snapshot(&w);
            } else {
                idle++;
            }
            if ((w.s[0].done || w.s[0].dead) && (w.s[1].done || w.s[1].dead))
                break;
            if (idle > FW_IDLE_MAX || ++rounds > FW_ROUNDS_MAX)
                break;
        }
        if (!w.s[0].done || !w.s[1].done || w.s[0].dead || w.s[1].dead)
            break;
    }
    if (w.s[0].done && w.s[1].done && !w.s[0].dead && !w.s[1].dead
        && p > sc->nphases) {
        r->completed = 1;
        for (i = 0; i < 2; i++)
            w.s[i].res->outcome = FW_OUT_COMPLETED;
    } else {
        any_dead = w.s[0].dead || w.s[1].dead;
        r->stalled = !any_dead;
        if (getenv("FW_DEBUG") != NULL)
            debug_dump(&w);
        for (i = 0; i < 2; i++) {
            FW_SIDE *x = &w.s[i];
            size_t used = strlen(r->stall);

            describe_state(x, x->dead ? "dead" : (x->done ? "done" : "waiting"),
                           0);
            snprintf(r->stall + used, sizeof(r->stall) - used,
                     "%s%s: %s, written %zu, received %zu; onion write "
                     "buffer %ld, transport readable %ld, writable %ld",
                     i ? "; " : "", x->name, x->res->state, x->woff,
                     x->res->rxlen,
                     (long)(BIO_wpending(x->lo) - BIO_ctrl_wpending(x->pair)),
                     (long)BIO_ctrl_pending(x->pair),
                     (long)BIO_ctrl_get_write_guarantee(x->pair));
            x->res->state[0] = '\0';
        }
        endgame(&w, any_dead);
    }
    for (i = 0; i < 2; i++) {
        finish_side(&w.s[i]);
        fault_bio_stats(w.s[i].ftr, &r->tr_stats[i]);
        if (w.s[i].fmid != NULL)
            fault_bio_stats(w.s[i].fmid, &r->mid_stats[i]);
    }
    if (record) {
        nrun++;
        for (i = 0; i < 2; i++) {
            int t, d;

            for (t = 0; t < 2; t++) {
                BIO *tb = t == 0 ? w.s[i].ttr : w.s[i].tmid;

                for (d = 0; d < 2; d++) {
                    FW_TAPE *tp = &r->tape[i][t][d];
                    const unsigned char *data, *armed;

                    if (tb == NULL || (tp->len = tap_len(tb, d)) == 0)
                        continue;
                    data = tap_data(tb, d, &armed);
                    tp->data = malloc(tp->len);
                    tp->armed = malloc(tp->len);
                    if (tp->data == NULL || tp->armed == NULL) {
                        snprintf(r->harness, sizeof(r->harness),
                                 "out of memory");
                        goto end;
                    }
                    memcpy(tp->data, data, tp->len);
                    memcpy(tp->armed, armed, tp->len);
                    if (getenv("FW_TAPEDIR") != NULL) {
                        char path[512];
                        FILE *fp;

                        snprintf(path, sizeof(path), "%s/run%d-%d-%d-%d",
                                 getenv("FW_TAPEDIR"), nrun, i, t, d);
                        if ((fp = fopen(path, "wb")) != NULL) {
                            fwrite(tp->data, 1, tp->len, fp);
                            fclose(fp);
                        }
                    }
                }
            }
        }
    }
    ok = r->harness[0] == '\0';
end:
    for (i = 0; i < 2; i++) {
        free_side(&w.s[i]);
    }
    ERR_clear_error();
    return ok;
}

void fw_run_free(FW_RUN *r)
{
    int i, t, d;

    for (i = 0; i < 2; i++) {
        free(r->side[i].rx);
        for (t = 0; t < 2; t++)
            for (d = 0; d < 2; d++) {
                free(r->tape[i][t][d].data);
                free(r->tape[i][t][d].armed);
            }
    }
    free(r->snaps);
    memset(r, 0, sizeof(*r));
}

int fw_check_prefix(const FW_SCENARIO *sc, int side, const FW_RUN *r, char *why,
                    size_t len)
{
    const FW_SIDE_RESULT *res = &r->side[side];
    const unsigned char *sent = sc->out[1 - side];
    size_t i;

    if (res->rxlen > sc->outlen[1 - side]) {
        snprintf(why, len, "%s received %zu bytes, more than the %zu sent",
                 side == FW_CLIENT ? "client" : "server", res->rxlen,
                 sc->outlen[1 - side]);
        return 0;
    }
    if (res->rxlen > 0 && memcmp(res->rx, sent, res->rxlen) != 0) {
        for (i = 0; i < res->rxlen && res->rx[i] == sent[i]; i++)
            continue;
        snprintf(why, len,
                 "%s received %zu bytes that are not what was sent: first "
                 "difference at offset %zu (got 0x%02x, sent 0x%02x)",
                 side == FW_CLIENT ? "client" : "server", res->rxlen, i,
                 res->rx[i], sent[i]);
        return 0;
    }
    return 1;
}
