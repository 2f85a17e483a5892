/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "onion_local.h"

/*
 * bio_onion registers an error library of its own, as engines and providers
 * outside OpenSSL do, so that its reasons print with their names and a
 * caller can tell them from OpenSSL's by ERR_GET_LIB.
 */

static ERR_STRING_DATA onion_str_reasons[] = {
    { ERR_PACK(0, 0, BIO_ONION_R_NO_NEXT_BIO), "onion BIO has no next BIO" },
    { ERR_PACK(0, 0, BIO_ONION_R_NO_LAYER), "no TLS layer" },
    { ERR_PACK(0, 0, BIO_ONION_R_LAYER_CLOSING), "layer is closing" },
    { ERR_PACK(0, 0, BIO_ONION_R_LAYER_FAILED), "TLS layer failed" },
    { ERR_PACK(0, 0, BIO_ONION_R_HANDSHAKE_FAILED), "layer handshake failed" },
    { ERR_PACK(0, 0, BIO_ONION_R_TRANSPORT_EOF),
      "transport closed without close_notify" },
    { ERR_PACK(0, 0, BIO_ONION_R_TRANSPORT_ERROR), "transport I/O error" },
    { ERR_PACK(0, 0, BIO_ONION_R_TRUNCATED),
      "layer ended without close_notify" },
    { ERR_PACK(0, 0, BIO_ONION_R_BAD_INDEX), "layer index out of range" },
    { ERR_PACK(0, 0, BIO_ONION_R_SSL_IN_USE), "SSL already started or in use" },
    { ERR_PACK(0, 0, BIO_ONION_R_BAD_WRITE_RETRY), "bad write retry" },
    { ERR_PACK(0, 0, BIO_ONION_R_LAYER_DISCARDED),
      "failed layer discarded without close_notify" },
    { ERR_PACK(0, 0, BIO_ONION_R_UNSUPPORTED_SSL),
      "SSL kind not supported as a layer" },
    { ERR_PACK(0, 0, BIO_ONION_R_NULL_ARGUMENT), "null argument" },
    { 0, NULL }
};

static ERR_STRING_DATA onion_str_lib[] = { { 0, "bio_onion" }, { 0, NULL } };

static CRYPTO_ONCE onion_err_once = CRYPTO_ONCE_STATIC_INIT;
static int onion_lib_code = 0;

static void onion_err_init(void)
{
    onion_lib_code = ERR_get_next_error_library();
    onion_str_lib[0].error = ERR_PACK(onion_lib_code, 0, 0);
    ERR_load_strings_const(onion_str_lib);
    ERR_load_strings(onion_lib_code, onion_str_reasons);
}

int BIO_onion_error_library(void)
{
    if (!CRYPTO_THREAD_run_once(&onion_err_once, onion_err_init))
        return 0;
    return onion_lib_code;
}

void onion_raise(int reason, int layer, const char *file, int line)
{
    int lib = BIO_onion_error_library();

    ERR_new();
    ERR_set_debug(file, line, NULL);
    if (layer >= 0)
        ERR_set_error(lib, reason, "layer %d", layer);
    else if (layer == BIO_ONION_ERROR_TRANSPORT)
        ERR_set_error(lib, reason, "transport below layer 0");
    else
        ERR_set_error(lib, reason, NULL);
}
