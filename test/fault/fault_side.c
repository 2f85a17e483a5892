/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * One side of the fault world: the application a schedule plays on each
 * end, step by step (write, read and check, push, pop, flush), and the
 * rules it checks as it goes (depth, frames, truncation never seen as a
 * clean end).  The pump that alternates the two sides is in fault_world.c.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "bio_onion.h"
#include "detrand.h"
#include "fault_side.h"
#include "tap.h"
#include "testutil.h"

#define FW_READ_BUF 65536

static void set_violation(FW_SIDE *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_violation(FW_SIDE *s, const char *fmt, ...)
{
    va_list ap;

    if (s->res->violation[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(s->res->violation, sizeof(s->res->violation), fmt, ap);
    va_end(ap);
}

/* Moves the error queue into the side's log: the errors it raised. */
void collect(FW_SIDE *s)
{
    const char *file, *func, *data;
    int line, flags, has_data;
    unsigned long e;
    char ebuf[256];
    size_t used;
    FW_SIDE_RESULT *res = s->res;

    while ((e = ERR_get_error_all(&file, &line, &func, &data, &flags)) != 0) {
        has_data = (flags & ERR_TXT_STRING) != 0 && data != NULL;
        ERR_error_string_n(e, ebuf, sizeof(ebuf));
        if (ERR_GET_LIB(e) == BIO_onion_error_library()) {
            if (res->onion_errors++ == 0)
                snprintf(res->first_onion_error, sizeof(res->first_onion_error),
                         "%s%s%s", ebuf, has_data ? " data: " : "",
                         has_data ? data : "");
        }
        used = strlen(res->errlog);
        if (used + 1 < sizeof(res->errlog))
            snprintf(res->errlog + used, sizeof(res->errlog) - used,
                     "\n      [%s]%s%s", ebuf, has_data ? " data: " : "",
                     has_data ? data : "");
    }
}

void on_event(BIO *b, int event, int layer, void *arg)
{
    FW_EVARG *ev = arg;
    FW_SIDE *s = ev->s;
    int global = layer + (ev->hi ? s->split : 0);

    switch (event) {
    case BIO_ONION_EV_HANDSHAKE_DONE:
        s->res->ev_hs++;
        if (global >= 0 && global < FW_MAX_DEPTH)
            s->hs_done[global] = 1;
        break;
    case BIO_ONION_EV_POPPED:
        s->res->ev_popped++;
        break;
    case BIO_ONION_EV_FAILED:
        s->res->ev_failed++;
        if (BIO_onion_get_error_layer(b) != layer)
            s->res->ev_failed_mismatch++;
        break;
    default:
        break;
    }
}

static BIO *onion_for(FW_SIDE *s, int level)
{
    return s->split > 0 && level >= s->split ? s->hi : s->lo;
}

static int *depth_for(FW_SIDE *s, int level)
{
    return s->split > 0 && level >= s->split ? &s->depth_hi : &s->depth_lo;
}

/* The tap that sees the stream of |level| on its way below it, if any. */
static BIO *tap_for(FW_SIDE *s, int level)
{
    if (level == 0)
        return s->ttr;
    if (s->split > 0 && level == s->split)
        return s->tmid;
    return NULL;
}

int global_depth(FW_SIDE *s)
{
    return s->depth_lo + s->depth_hi;
}

/* The onion whose innermost layer is the side's innermost layer. */
static BIO *innermost(FW_SIDE *s)
{
    return s->hi != NULL && s->depth_hi > 0 ? s->hi : s->lo;
}

int global_error(FW_SIDE *s)
{
    int lo = BIO_onion_get_error_layer(s->lo);
    int hi;

    if (lo != BIO_ONION_ERROR_NONE || s->hi == NULL)
        return lo;
    hi = BIO_onion_get_error_layer(s->hi);
    if (hi == BIO_ONION_ERROR_NONE)
        return hi;
    /* Below hi's layer 0 is the stream of layer "split": its truncation. */
    return hi == BIO_ONION_ERROR_TRANSPORT ? s->split : s->split + hi;
}

void describe_state(FW_SIDE *s, const char *what, int ret)
{
    snprintf(s->res->state, sizeof(s->res->state),
             "%s in phase %d step %d: returned %d, retry %d (read %d write "
             "%d reason %d), depth %d+%d, error layer %d",
             what, s->w->phase, s->sub, ret, BIO_should_retry(s->top),
             BIO_should_read(s->top), BIO_should_write(s->top),
             BIO_get_retry_reason(s->top), s->depth_lo, s->depth_hi,
             global_error(s));
}

/* The application closes its end of the transport (socket close). */
void side_close(FW_SIDE *s)
{
    if (s->closed)
        return;
    s->closed = 1;
    BIO_shutdown_wr(s->pair);
}

/* The split fault BIO cut its stream (reads ended or writes failed). */
static int mid_cut(FW_SIDE *s)
{
    const FAULT_CONFIG *c = &s->w->f->mid[s->id];
    FAULT_STATS st;

    if (s->fmid == NULL || !fault_bio_stats(s->fmid, &st))
        return 0;
    return (c->read_cutoff >= 0
            && st.bytes_read >= (unsigned long long)c->read_cutoff)
        || (c->write_cutoff >= 0
            && st.bytes_written >= (unsigned long long)c->write_cutoff);
}

void side_stop(FW_SIDE *s, int outcome, const char *what, int ret)
{
    if (s->dead)
        return;
    describe_state(s, what, ret);
    s->dead = 1;
    s->res->outcome = outcome;
    s->res->fail_order = ++s->w->order;
    s->res->err_layer = global_error(s);
    /*
     * When the split stream is cut while hi holds no layer, what failed is
     * a plain stream: no layer is to blame.
     */
    s->res->depth_at_end = s->hi != NULL && s->depth_hi == 0 && mid_cut(s)
            && s->res->err_layer == BIO_ONION_ERROR_NONE
        ? 0
        : global_depth(s);
    s->res->phase = s->w->phase;
    collect(s);
    /* A real application would send what it can (an alert), then close. */
    (void)BIO_flush(s->top);
    collect(s);
    side_close(s);
}

static void check_depth(FW_SIDE *s)
{
    int lo = BIO_onion_get_depth(s->lo);
    int hi = s->hi != NULL ? BIO_onion_get_depth(s->hi) : 0;

    if (lo != s->depth_lo || hi != s->depth_hi)
        set_violation(s, "depth is %d+%d, expected %d+%d", lo, hi, s->depth_lo,
                      s->depth_hi);
}

/* The server parses the client's frames as they arrive. */
static int parse_frames(FW_SIDE *s)
{
    const FW_PHASE *ph = &s->w->sc->ph[s->w->phase];
    FW_SIDE_RESULT *res = s->res;
    size_t flen;

    while (s->parsed + FW_FRAME_HDR <= res->rxlen && !s->saw_starttls) {
        unsigned char *h = res->rx + s->parsed;

        flen = ((size_t)h[1] << 8) | h[2];
        if (h[0] == FW_FRAME_STARTTLS && flen == 0) {
            if (ph->kind != FW_PUSH || !ph->inband) {
                set_violation(s, "STARTTLS frame at offset %zu out of a push",
                              s->parsed);
                return 0;
            }
            s->saw_starttls = 1;
            s->parsed += FW_FRAME_HDR;
            /* Bytes past the line belong to the new layer. */
            s->nleftover = res->rxlen - s->parsed;
            if (s->nleftover > 0) {
                s->leftover = malloc(s->nleftover);
                if (s->leftover == NULL) {
                    set_violation(s, "out of memory");
                    return 0;
                }
                memcpy(s->leftover, res->rx + s->parsed, s->nleftover);
            }
            res->rxlen = s->parsed;
            return 1;
        }
        if (h[0] != FW_FRAME_DATA) {
            set_violation(s, "bad frame type 0x%02x at offset %zu", h[0],
                          s->parsed);
            return 0;
        }
        if (s->parsed + FW_FRAME_HDR + flen > res->rxlen)
            break;
        s->parsed += FW_FRAME_HDR + flen;
    }
    return 1;
}

/*
 * With auto-pop, one read may pop the innermost layer and then meet the
 * end of the stream below (the peer closed the layer, then the
 * connection): count the pops the read made before judging its 0.
 */
static void sync_auto_pop(FW_SIDE *s)
{
    int hi = s->hi != NULL ? BIO_onion_get_depth(s->hi) : 0;
    int lo = BIO_onion_get_depth(s->lo);

    for (; s->depth_hi > hi; s->depth_hi--)
        s->res->pops++;
    for (; s->depth_lo > lo; s->depth_lo--)
        s->res->pops++;
}

/*
 * side_read reads once from the top of the chain.  Returns 1 when bytes
 * came, 0 on a retry, 2 when the innermost layer was closed by the peer
 * (read returned 0 with BIO_onion_peer_closed), -1 when the side stopped.
 */
int side_read(FW_SIDE *s)
{
    FW_SIDE_RESULT *res = s->res;
    size_t want = 1 + test_rand_below(&s->rrng, s->w->sc->max_read);
    int ret, cut;

    if (want > FW_READ_BUF)
        want = FW_READ_BUF;
    if (!fw_grow(&res->rx, &s->rxcap, res->rxlen + want)) {
        set_violation(s, "out of memory");
        side_stop(s, FW_OUT_STUCK, "allocation", 0);
        return -1;
    }
    ret = BIO_read(s->top, res->rx + res->rxlen, (int)want);
    if (ret > 0) {
        res->rxlen += (size_t)ret;
        if (s->id == FW_SERVER && !parse_frames(s)) {
            side_stop(s, FW_OUT_FAILED, "bad stream", ret);
            return -1;
        }
        return 1;
    }
    if (ret < 0 && BIO_should_retry(s->top))
        return 0;
    if (ret == 0 && (s->w->sc->flags[s->id] & BIO_ONION_AUTO_POP) != 0)
        sync_auto_pop(s);
    if (ret == 0 && global_depth(s) > 0 && BIO_onion_peer_closed(innermost(s)))
        return 2;
    if (ret == 0) {
        /*
         * A plain stream may end; a TLS layer that ends without close_notify
         * must fail.  The hi onion at depth 0 passes on what comes through
         * the split fault BIO, whose cut-off ends that stream.
         */
        cut = mid_cut(s);
        if (global_depth(s) > 0 && s->depth_hi > 0)
            set_violation(s,
                          "read returned 0 at depth %d+%d without "
                          "close_notify (truncation reported as a clean "
                          "end)",
                          s->depth_lo, s->depth_hi);
        else if (global_depth(s) > 0 && !cut)
            set_violation(s,
                          "read returned 0 at depth %d without "
                          "close_notify (truncation reported as a clean "
                          "end)",
                          s->depth_lo);
        side_stop(s, FW_OUT_ENDED, "read EOF", ret);
        return -1;
    }
    side_stop(s, FW_OUT_FAILED, "read", ret);
    return -1;
}

/* Writes toward |target|.  Returns 1 on progress, 0 on retry, -1 stopped. */
static int side_write(FW_SIDE *s, size_t target)
{
    int ret;

    if (s->woff >= target)
        return 1;
    if (s->wunit == 0) {
        s->wunit = 1 + test_rand_below(&s->wrng, s->w->sc->max_write);
        if (s->wunit > target - s->woff)
            s->wunit = target - s->woff;
    }
    ret = BIO_write(s->top, s->out + s->woff, (int)s->wunit);
    if (ret > 0) {
        if ((size_t)ret > s->wunit) {
            set_violation(s, "write returned %d for %zu bytes", ret, s->wunit);
            side_stop(s, FW_OUT_FAILED, "write", ret);
            return -1;
        }
        s->woff += (size_t)ret;
        s->wunit -= (size_t)ret;
        return 1;
    }
    if (BIO_should_retry(s->top))
        return 0;
    side_stop(s, FW_OUT_FAILED, "write", ret);
    return -1;
}

/*
 * Retries a write that returned a retry, with the same bytes, as every
 * application must before anything else is written on that layer (OpenSSL
 * queues a close_notify behind it).  Returns as side_write; 1 when none.
 */
int side_retry_write(FW_SIDE *s)
{
    if (s->wunit == 0)
        return 1;
    return side_write(s, s->woff + s->wunit);
}

/* Flushes the chain.  Returns 1 when all is written, 0 retry, -1 stopped. */
static int side_flush(FW_SIDE *s)
{
    int ret = (int)BIO_flush(s->top);

    if (ret > 0)
        return 1;
    if (BIO_should_retry(s->top))
        return 0;
    /*
     * The test fault BIO forwards BIO_CTRL_FLUSH without copying the retry
     * state from below, so the hi onion cannot tell a blocked lo onion from
     * a failed one: ask lo itself.
     */
    if (s->hi != NULL && s->top == s->hi) {
        ret = (int)BIO_flush(s->lo);
        if (ret > 0 || BIO_should_retry(s->lo))
            return 0;
    }
    side_stop(s, FW_OUT_FAILED, "flush", ret);
    return -1;
}

static int side_handshake(FW_SIDE *s)
{
    int ret = (int)BIO_do_handshake(s->top);

    if (ret > 0)
        return 1;
    if (BIO_should_retry(s->top))
        return 0;
    side_stop(s, FW_OUT_FAILED, "handshake", ret);
    return -1;
}

static void arm(FW_SIDE *s, int level, int on, size_t back)
{
    BIO *t = tap_for(s, level);

    if (t == NULL)
        return;
    tap_set_armed(t, TAP_WRITE, on);
    tap_set_armed(t, TAP_READ, on);
    if (on && back > 0)
        tap_arm_back(t, TAP_READ, back);
}

static int side_push(FW_SIDE *s, int level)
{
    const FW_SCENARIO *sc = s->w->sc;
    BIO *o = onion_for(s, level);
    SSL *ssl;
    int ret;

    if (s->id == FW_CLIENT) {
        ret = BIO_onion_push_tls(o, fw_cfg_ctx(sc->cfg[level], 0), 1);
    } else {
        if ((ssl = SSL_new(fw_cfg_ctx(sc->cfg[level], 1))) == NULL) {
            set_violation(s, "SSL_new failed");
            side_stop(s, FW_OUT_STUCK, "SSL_new", 0);
            return -1;
        }
        SSL_set_accept_state(ssl);
        ret = BIO_onion_push_ssl_with_data(o, ssl, s->leftover, s->nleftover);
        if (ret != 1)
            SSL_free(ssl);
    }
    if (ret != 1) {
        set_violation(s, "push of layer %d failed (%d)", level, ret);
        side_stop(s, FW_OUT_FAILED, "push", ret);
        return -1;
    }
    (*depth_for(s, level))++;
    s->res->pushes++;
    s->hs_done[level] = 0;
    arm(s, level, 1, s->nleftover);
    free(s->leftover);
    s->leftover = NULL;
    s->nleftover = 0;
    return 1;
}

/* Pops the layer of |level|; reads what the peer still sends first. */
int side_pop(FW_SIDE *s, int level)
{
    BIO *o = onion_for(s, level);
    int before = global_error(s);
    int ret = (int)BIO_onion_pop(o), r;

    if (ret <= 0 && !BIO_should_retry(o)
        && BIO_onion_get_depth(o) == *depth_for(s, level) - 1) {
        /*
         * The layer had failed (a BIO_pending probe found out): pop
         * discarded it, and the stack below is healthy again.  The side
         * stops on the failure it had.
         */
        (*depth_for(s, level))--;
        side_stop(s, FW_OUT_FAILED, "pop of a failed layer", ret);
        s->res->err_layer = before;
        s->res->depth_at_end++;
        return -1;
    }
    if (ret == 1) {
        (*depth_for(s, level))--;
        s->res->pops++;
        arm(s, level, 0, 0);
        return 1;
    }
    if (!BIO_should_retry(o)) {
        side_stop(s, FW_OUT_FAILED, "pop", ret);
        return -1;
    }
    if (BIO_get_retry_reason(o) != BIO_ONION_RR_APP_DATA)
        return 0;
    /* Application data before the peer's close_notify: read it. */
    r = side_read(s);
    if (r == 2 || r == 1)
        return 0;
    return r;
}

static int flush_or_read(FW_SIDE *s);

/* One step of a side in a data phase.  Returns 1 on progress. */
static int step_data(FW_SIDE *s, const FW_PHASE *ph, size_t expect)
{
    int prog = 0, r;

    if (s->woff < ph->out_end[s->id]) {
        r = side_write(s, ph->out_end[s->id]);
        if (r < 0)
            return 1;
        prog |= r;
    }
    if (s->res->rxlen < expect) {
        size_t before = s->res->rxlen;

        r = side_read(s);
        if (r < 0)
            return 1;
        if (r == 2) {
            set_violation(s, "peer closed layer %d in a data phase",
                          global_depth(s) - 1);
            side_stop(s, FW_OUT_FAILED, "unexpected close", 0);
            return 1;
        }
        prog |= s->res->rxlen != before;
    }
    if (s->woff >= ph->out_end[s->id] && s->res->rxlen >= expect) {
        r = flush_or_read(s);
        if (r < 0)
            return 1;
        if (r > 0) {
            s->done = 1;
            prog = 1;
        }
    }
    return prog;
}

static int step_push(FW_SIDE *s, const FW_PHASE *ph)
{
    int r;

    switch (s->sub) {
    case 0:
        if (!ph->inband) {
            s->sub = 1;
            return 1;
        }
        if (s->id == FW_CLIENT) {
            r = side_write(s, ph->out_end[s->id]);
            if (r < 0)
                return 1;
            if (s->woff >= ph->out_end[s->id])
                s->sub = 1;
            return r;
        }
        r = side_read(s);
        if (r < 0)
            return 1;
        if (r == 2) {
            set_violation(s, "peer closed layer %d before STARTTLS",
                          global_depth(s) - 1);
            side_stop(s, FW_OUT_FAILED, "unexpected close", 0);
            return 1;
        }
        if (s->saw_starttls)
            s->sub = 1;
        return r;
    case 1:
        if (side_push(s, ph->level) < 0)
            return 1;
        s->sub = ph->explicit_hs ? 2 : 3;
        return 1;
    case 2:
        r = side_handshake(s);
        if (r < 0)
            return 1;
        if (r > 0)
            s->sub = 3;
        return r;
    default:
        r = flush_or_read(s);
        if (r < 0)
            return 1;
        if (r > 0)
            s->done = 1;
        return r;
    }
}

static int step_pop(FW_SIDE *s, const FW_PHASE *ph)
{
    int starts = ph->initiator == 2 || ph->initiator == s->id;
    int *depth = depth_for(s, ph->level);
    BIO *o = onion_for(s, ph->level);
    int r, want_depth;

    switch (s->sub) {
    case 0:
        /* The side that did not start the close sends its last data. */
        if (!starts && s->woff < ph->out_end[s->id]) {
            r = side_write(s, ph->out_end[s->id]);
            return r < 0 ? 1 : r;
        }
        s->sub = starts ? 2 : 1;
        return 1;
    case 1:
        r = side_read(s);
        if (r < 0)
            return 1;
        /* With auto-pop the read answers the close and pops the layer. */
        want_depth = *depth - 1;
        if (BIO_onion_get_depth(o) == want_depth) {
            (*depth)--;
            s->res->pops++;
            arm(s, ph->level, 0, 0);
            s->sub = 3;
            return 1;
        }
        if (r == 2) {
            if ((s->w->sc->flags[s->id] & BIO_ONION_AUTO_POP) != 0)
                set_violation(s,
                              "with BIO_ONION_AUTO_POP, a read returned 0 "
                              "when the peer closed layer %d",
                              ph->level);
            s->sub = 2;
            return 1;
        }
        return r;
    case 2:
        r = side_pop(s, ph->level);
        if (r < 0)
            return 1;
        if (r > 0)
            s->sub = 3;
        return r;
    default:
        r = flush_or_read(s);
        if (r < 0)
            return 1;
        if (r > 0)
            s->done = 1;
        return r;
    }
}

/*
 * A side that waits (for its peer, or for its transport to take what it
 * wrote) keeps reading, as an application polling its socket both ways
 * does: the peer may need it to take what it writes (session tickets,
 * alerts, a handshake flight) before it can go on.  Nothing may arrive that
 * the phase did not expect.
 */
static void service_read(FW_SIDE *s)
{
    size_t before = s->res->rxlen;
    int r = side_read(s);

    if (r == 2) {
        set_violation(s, "peer closed layer %d while this side waited",
                      global_depth(s) - 1);
        side_stop(s, FW_OUT_FAILED, "unexpected close", 0);
    } else if (r >= 0 && s->res->rxlen > before) {
        set_violation(s, "%zu bytes arrived past the end of phase %d",
                      s->res->rxlen - before, s->w->phase);
        side_stop(s, FW_OUT_FAILED, "overrun", 0);
    } else if (r >= 0 && s->done) {
        (void)side_flush(s);
    }
}

/* side_flush, and while the transport does not take it all, read. */
static int flush_or_read(FW_SIDE *s)
{
    int r = side_flush(s);

    if (r == 0 && !s->dead)
        service_read(s);
    return s->dead ? -1 : r;
}

int side_step(FW_SIDE *s)
{
    FW_WORLD *w = s->w;
    const FW_PHASE *ph;
    int prog;

    if (s->dead)
        return 0;
    s->steps++;
    detrand_select(s->id);
    if (s->done) {
        service_read(s);
        collect(s);
        return 0;
    }
    if (w->phase >= w->sc->nphases) {
        prog = flush_or_read(s);
        if (prog > 0)
            s->done = 1;
    } else {
        ph = &w->sc->ph[w->phase];
        switch (ph->kind) {
        case FW_DATA:
            prog = step_data(s, ph, ph->out_end[1 - s->id]);
            break;
        case FW_PUSH:
            prog = step_push(s, ph);
            break;
        default:
            prog = step_pop(s, ph);
            break;
        }
        /* Now and then, ask what is pending: it must never disturb. */
        if (!s->dead && test_rand_below(&s->rrng, 8) == 0)
            (void)BIO_pending(s->top);
    }
    collect(s);
    if (getenv("FW_TRACE") != NULL)
        fprintf(stderr,
                "%s p%d s%d d%d dead%d: woff %zu rx %zu depth %d+%d taps "
                "%zu/%zu prog %d\n",
                s->name, w->phase, s->sub, s->done, s->dead, s->woff,
                s->res->rxlen, s->depth_lo, s->depth_hi,
                tap_len(s->ttr, TAP_READ), tap_len(s->ttr, TAP_WRITE), prog);
    if (!s->dead)
        check_depth(s);
    if (s->res->violation[0] != '\0' && !s->dead)
        side_stop(s, FW_OUT_FAILED, "rule broken", 0);
    return prog > 0;
}
