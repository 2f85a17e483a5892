/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * The parts of a test filter BIO that every one of them shares with
 * OpenSSL's bf_null.c: ctrl and callback_ctrl forwarding to the next BIO.
 */

#ifndef ONION_TEST_FILTERBIO_H
#define ONION_TEST_FILTERBIO_H

#include <openssl/bio.h>

/*
 * filter_ctrl_next forwards |cmd| to the next BIO of |b| as bf_null.c does:
 * 0 without a next BIO, the retry state copied back for
 * BIO_C_DO_STATE_MACHINE, and 0 for BIO_CTRL_DUP (a test filter's state is
 * not copied).
 */
long filter_ctrl_next(BIO *b, int cmd, long num, void *ptr);

/* filter_callback_ctrl forwards a callback ctrl to the next BIO, 0 without. */
long filter_callback_ctrl(BIO *b, int cmd, BIO_info_cb *fp);

#endif /* ONION_TEST_FILTERBIO_H */
