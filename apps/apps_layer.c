/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * Layers of the tools: -layer SPEC parsing, the SSL_CTX and SSL of each
 * layer, the step list, and the lines that describe a layer or its failure.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "apps_common.h"

const char *apps_prog = "onion";

static FILE *apps_keylog = NULL;
static int apps_spec_index = -1;

/* Key log lines for every layer of every connection go to one file. */
static void keylog_cb(const SSL *ssl, const char *line)
{
    (void)ssl;
    if (apps_keylog == NULL)
        return;
    fprintf(apps_keylog, "%s\n", line);
    fflush(apps_keylog);
}

FILE *apps_open_keylog(const char *path)
{
    FILE *f = fopen(path, "a");

    if (f == NULL) {
        fprintf(stderr, "%s: -keylogfile %s: %s\n", apps_prog, path,
                strerror(errno));
        return NULL;
    }
    apps_keylog = f;
    return f;
}

/* Parsing a SPEC. */

static int spec_set(APPS_LAYER_SPEC *spec, const char *key, const char *val,
                    int client)
{
    static const struct {
        const char *key;
        size_t off;
        int client_only;
    } keys[] = {
        { "servername", offsetof(APPS_LAYER_SPEC, servername), 1 },
        { "CAfile", offsetof(APPS_LAYER_SPEC, cafile), 0 },
        { "CApath", offsetof(APPS_LAYER_SPEC, capath), 0 },
        { "cert", offsetof(APPS_LAYER_SPEC, cert), 0 },
        { "key", offsetof(APPS_LAYER_SPEC, key), 0 },
        { "alpn", offsetof(APPS_LAYER_SPEC, alpn), 0 },
        { "min", offsetof(APPS_LAYER_SPEC, min), 0 },
        { "max", offsetof(APPS_LAYER_SPEC, max), 0 },
        { "ciphersuites", offsetof(APPS_LAYER_SPEC, ciphersuites), 0 },
        { "cipher", offsetof(APPS_LAYER_SPEC, cipher), 0 },
        { "sess_out", offsetof(APPS_LAYER_SPEC, sess_out), 1 },
        { "sess_in", offsetof(APPS_LAYER_SPEC, sess_in), 1 },
    };
    size_t i;

    if (strcmp(key, "verify") == 0) {
        if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0) {
            fprintf(stderr, "%s: -layer: verify must be 0 or 1, not '%s'\n",
                    apps_prog, val);
            return 0;
        }
        spec->verify = val[0] - '0';
        return 1;
    }
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strcmp(key, keys[i].key) != 0)
            continue;
        if (keys[i].client_only && !client)
            break;
        *(const char **)((char *)spec + keys[i].off) = val;
        return 1;
    }
    fprintf(stderr, "%s: -layer: unknown key '%s' (see -help)\n", apps_prog,
            key);
    return 0;
}

static APPS_LAYER_SPEC *spec_parse(const char *arg, int client)
{
    APPS_LAYER_SPEC *spec = calloc(1, sizeof(*spec));
    char *item, *save = NULL;

    if (spec == NULL || (spec->text = strdup(arg)) == NULL
        || (spec->store = strdup(arg)) == NULL) {
        fprintf(stderr, "%s: out of memory\n", apps_prog);
        goto err;
    }
    spec->verify = -1;
    for (item = strtok_r(spec->store, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');

        if (eq == NULL || eq == item) {
            fprintf(stderr, "%s: -layer: '%s' is not key=value\n", apps_prog,
                    item);
            goto err;
        }
        *eq = '\0';
        if (!spec_set(spec, item, eq + 1, client))
            goto err;
    }
    return spec;
err:
    if (spec != NULL) {
        free(spec->store);
        free(spec->text);
    }
    free(spec);
    return NULL;
}

static void spec_free(APPS_LAYER_SPEC *spec)
{
    if (spec == NULL)
        return;
    SSL_CTX_free(spec->ctx);
    free(spec->alpn_wire);
    free(spec->store);
    free(spec->text);
    free(spec);
}

int apps_steps_add(APPS_STEPS *st, enum apps_step_kind kind, const char *arg,
                   int client)
{
    APPS_STEP *s;

    s = realloc(st->step, (size_t)(st->n + 1) * sizeof(*s));
    if (s == NULL)
        goto oom;
    st->step = s;
    s = &st->step[st->n];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    if (kind == APPS_STEP_LAYER) {
        APPS_LAYER_SPEC **l;

        l = realloc(st->layers, (size_t)(st->nlayers + 1) * sizeof(*l));
        if (l == NULL)
            goto oom;
        st->layers = l;
        if ((s->layer = spec_parse(arg, client)) == NULL)
            return 0;
        st->layers[st->nlayers++] = s->layer;
    } else if (kind == APPS_STEP_HTTP_CONNECT) {
        s->target = arg;
    }
    st->n++;
    return 1;
oom:
    fprintf(stderr, "%s: out of memory\n", apps_prog);
    return 0;
}

void apps_steps_free(APPS_STEPS *st)
{
    int i;

    for (i = 0; i < st->nlayers; i++)
        spec_free(st->layers[i]);
    free(st->layers);
    free(st->step);
    memset(st, 0, sizeof(*st));
}

/* Building the SSL_CTX of a layer. */

static int proto_version(const char *name, int *v)
{
    if (name == NULL) {
        *v = 0;
        return 1;
    }
    if (strcmp(name, "TLSv1.2") == 0)
        *v = TLS1_2_VERSION;
    else if (strcmp(name, "TLSv1.3") == 0)
        *v = TLS1_3_VERSION;
    else
        return 0;
    return 1;
}

/* "h2:http/1.1" to the wire format of RFC 7301. */
static int alpn_wire(APPS_LAYER_SPEC *spec)
{
    const char *p = spec->alpn;
    size_t n = strlen(p), i = 0;
    unsigned char *w = malloc(n + 1);

    if (w == NULL)
        return 0;
    while (*p != '\0') {
        size_t l = strcspn(p, ":");

        if (l == 0 || l > 255) {
            free(w);
            return 0;
        }
        w[i++] = (unsigned char)l;
        memcpy(w + i, p, l);
        i += l;
        p += l;
        if (*p == ':')
            p++;
    }
    spec->alpn_wire = w;
    spec->alpn_wire_len = i;
    return i > 0;
}

/* The server picks the first of its own protocols that the client offers. */
static int alpn_select_cb(SSL *ssl, const unsigned char **out,
                          unsigned char *outlen, const unsigned char *in,
                          unsigned int inlen, void *arg)
{
    APPS_LAYER_SPEC *spec = arg;
    unsigned char *o;

    (void)ssl;
    if (SSL_select_next_proto(&o, outlen, spec->alpn_wire,
                              (unsigned int)spec->alpn_wire_len, in, inlen)
        != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = o;
    return SSL_TLSEXT_ERR_OK;
}

/* TLS 1.3 tickets arrive after the handshake: save each one as it comes. */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    APPS_LAYER_SPEC *spec = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    BIO *out;

    if (spec == NULL || spec->sess_out == NULL)
        return 0;
    out = BIO_new_file(spec->sess_out, "w");
    if (out == NULL) {
        fprintf(stderr, "%s: sess_out %s: cannot write\n", apps_prog,
                spec->sess_out);
        ERR_clear_error();
        return 0;
    }
    PEM_write_bio_SSL_SESSION(out, sess);
    BIO_free(out);
    return 0; /* we did not keep a reference */
}

static void print_ssl_errors(void)
{
    unsigned long e;
    char buf[256];

    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        fprintf(stderr, "%s:   %s\n", apps_prog, buf);
    }
}

static SSL_CTX *layer_ctx(APPS_LAYER_SPEC *spec, int index, int client,
                          FILE *keylog)
{
    SSL_CTX *ctx;
    int minv, maxv;
    const char *what = NULL;
    char label[256], whybuf[1024];

    apps_layer_label(label, sizeof(label), index, spec);
    ctx = SSL_CTX_new(client ? TLS_client_method() : TLS_server_method());
    if (ctx == NULL) {
        what = "cannot create SSL_CTX";
        goto err;
    }
    SSL_CTX_set_app_data(ctx, spec);
    if (!proto_version(spec->min, &minv) || !proto_version(spec->max, &maxv)) {
        what = "min and max must be TLSv1.2 or TLSv1.3";
        goto err;
    }
    if (!SSL_CTX_set_min_proto_version(ctx, minv ? minv : TLS1_2_VERSION)
        || (maxv != 0 && !SSL_CTX_set_max_proto_version(ctx, maxv))) {
        what = "bad protocol bounds";
        goto err;
    }
    if (spec->ciphersuites != NULL
        && !SSL_CTX_set_ciphersuites(ctx, spec->ciphersuites)) {
        what = "bad ciphersuites";
        goto err;
    }
    if (spec->cipher != NULL && !SSL_CTX_set_cipher_list(ctx, spec->cipher)) {
        what = "bad cipher list";
        goto err;
    }
    if (spec->cafile != NULL || spec->capath != NULL) {
        if (!SSL_CTX_load_verify_locations(ctx, spec->cafile, spec->capath)) {
            snprintf(whybuf, sizeof(whybuf),
                     "cannot load CAfile %s / CApath %s",
                     spec->cafile ? spec->cafile : "-",
                     spec->capath ? spec->capath : "-");
            what = whybuf;
            goto err;
        }
    } else if (client && !SSL_CTX_set_default_verify_paths(ctx)) {
        what = "cannot load the default CA locations";
        goto err;
    }
    if (spec->cert != NULL) {
        if (SSL_CTX_use_certificate_chain_file(ctx, spec->cert) <= 0) {
            snprintf(whybuf, sizeof(whybuf), "cannot load cert %s", spec->cert);
            what = whybuf;
            goto err;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, spec->key ? spec->key : spec->cert,
                                        SSL_FILETYPE_PEM)
                <= 0
            || !SSL_CTX_check_private_key(ctx)) {
            snprintf(whybuf, sizeof(whybuf),
                     "cannot load key %s (or it does not match cert %s)",
                     spec->key ? spec->key : spec->cert, spec->cert);
            what = whybuf;
            goto err;
        }
    } else if (!client) {
        what = "a server layer needs cert= (and key= unless cert holds it)";
        goto err;
    } else if (spec->key != NULL) {
        what = "key= without cert=";
        goto err;
    }
    if (spec->alpn != NULL) {
        if (!alpn_wire(spec)) {
            what = "bad alpn list (names separated by ':')";
            goto err;
        }
        if (client) {
            if (SSL_CTX_set_alpn_protos(ctx, spec->alpn_wire,
                                        (unsigned int)spec->alpn_wire_len)
                != 0) {
                what = "cannot set alpn";
                goto err;
            }
        } else {
            SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb, spec);
        }
    }
    if (client) {
        SSL_CTX_set_verify(
            ctx, spec->verify != 0 ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
        if (spec->sess_out != NULL) {
            SSL_CTX_set_session_cache_mode(
                ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
            SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
        }
    } else {
        static const unsigned char sid_ctx[] = "onion-server";

        SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
        if (spec->verify == 1) {
            STACK_OF(X509_NAME) *names = NULL;

            if (spec->cafile == NULL && spec->capath == NULL) {
                what = "verify=1 on a server layer needs CAfile or CApath";
                goto err;
            }
            if (spec->cafile != NULL
                && (names = SSL_load_client_CA_file(spec->cafile)) != NULL)
                SSL_CTX_set_client_CA_list(ctx, names);
            SSL_CTX_set_verify(
                ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
    }
    if (keylog != NULL)
        SSL_CTX_set_keylog_callback(ctx, keylog_cb);
    return ctx;
err:
    fprintf(stderr, "%s: %s: %s\n", apps_prog, label, what);
    print_ssl_errors();
    SSL_CTX_free(ctx);
    return NULL;
}

int apps_steps_check(APPS_STEPS *st, int client, FILE *keylog)
{
    int i, li = 0;

    for (i = 0; i < st->n; i++) {
        if (st->step[i].kind == APPS_STEP_STARTTLS
            && (i + 1 >= st->n || st->step[i + 1].kind != APPS_STEP_LAYER)) {
            fprintf(stderr, "%s: -starttls must be followed by -layer\n",
                    apps_prog);
            return 0;
        }
    }
    for (i = 0; i < st->n; i++) {
        APPS_LAYER_SPEC *spec = st->step[i].layer;

        if (st->step[i].kind != APPS_STEP_LAYER)
            continue;
        if ((spec->ctx = layer_ctx(spec, li, client, keylog)) == NULL)
            return 0;
        li++;
    }
    return 1;
}

const char *apps_layer_label(char *buf, size_t len, int index,
                             const APPS_LAYER_SPEC *spec)
{
    if (spec != NULL && spec->servername != NULL)
        snprintf(buf, len, "layer %d (servername %s)", index, spec->servername);
    else
        snprintf(buf, len, "layer %d", index);
    return buf;
}

/* Each SSL remembers its spec, so that messages can name the layer. */
static int spec_index(void)
{
    if (apps_spec_index < 0)
        apps_spec_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    return apps_spec_index;
}

APPS_LAYER_SPEC *apps_ssl_spec(SSL *ssl)
{
    if (ssl == NULL)
        return NULL;
    return SSL_get_ex_data(ssl, spec_index());
}

static int is_ip_literal(const char *name)
{
    unsigned char addr[16];

    return inet_pton(AF_INET, name, addr) == 1
        || inet_pton(AF_INET6, name, addr) == 1;
}

SSL *apps_layer_new_ssl(APPS_LAYER_SPEC *spec, int client,
                        const char *default_name)
{
    SSL *ssl = SSL_new(spec->ctx);
    const char *name = spec->servername ? spec->servername : default_name;

    if (ssl == NULL)
        goto err;
    SSL_set_ex_data(ssl, spec_index(), spec);
    if (!client) {
        SSL_set_accept_state(ssl);
        return ssl;
    }
    SSL_set_connect_state(ssl);
    if (name != NULL && is_ip_literal(name)) {
        if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name))
            goto err;
    } else if (name != NULL) {
        if (!SSL_set_tlsext_host_name(ssl, name) || !SSL_set1_host(ssl, name))
            goto err;
    } else if (spec->verify != 0) {
        fprintf(stderr,
                "%s: -layer %s: verify=1 needs servername= (or verify=0)\n",
                apps_prog, spec->text);
        SSL_free(ssl);
        return NULL;
    }
    if (spec->sess_in != NULL) {
        BIO *in = BIO_new_file(spec->sess_in, "r");
        SSL_SESSION *sess = NULL;

        if (in != NULL)
            sess = PEM_read_bio_SSL_SESSION(in, NULL, NULL, NULL);
        BIO_free(in);
        if (sess == NULL || !SSL_set_session(ssl, sess)) {
            fprintf(stderr, "%s: sess_in %s: cannot read a session\n",
                    apps_prog, spec->sess_in);
            SSL_SESSION_free(sess);
            SSL_free(ssl);
            return NULL;
        }
        SSL_SESSION_free(sess);
    }
    return ssl;
err:
    fprintf(stderr, "%s: cannot create the SSL of a layer\n", apps_prog);
    print_ssl_errors();
    SSL_free(ssl);
    return NULL;
}

/* Messages. */

void apps_failure_reason(BIO *onion, char *label, size_t labellen, char *why,
                         size_t whylen)
{
    int el = BIO_onion_get_error_layer(onion);
    int onion_lib = BIO_onion_error_library();
    unsigned long e, first_ssl = 0, first_other = 0, first_onion = 0;
    const char *data, *ssl_data = NULL;
    int flags;
    SSL *ssl = NULL;
    char buf[256];

    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        if (ERR_GET_LIB(e) == ERR_LIB_SSL) {
            if (first_ssl == 0) {
                first_ssl = e;
                ssl_data = (flags & ERR_TXT_STRING) ? data : NULL;
            }
        } else if (ERR_GET_LIB(e) == onion_lib) {
            if (first_onion == 0)
                first_onion = e;
        } else if (first_other == 0) {
            first_other = e;
        }
    }
    if (el >= 0 && BIO_onion_get_ssl(onion, el, &ssl) == 1) {
        apps_layer_label(label, labellen, el, apps_ssl_spec(ssl));
    } else if (el >= 0) {
        snprintf(label, labellen, "layer %d", el);
    } else if (el == BIO_ONION_ERROR_TRANSPORT) {
        snprintf(label, labellen, "transport below layer 0");
    } else {
        snprintf(label, labellen, "connection");
    }
    ERR_clear_error();
    if (ssl != NULL && first_ssl != 0
        && ERR_GET_REASON(first_ssl) == SSL_R_CERTIFICATE_VERIFY_FAILED
        && SSL_get_verify_result(ssl) != X509_V_OK) {
        snprintf(why, whylen, "certificate verify failed: %s",
                 X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
        return;
    }
    e = first_ssl ? first_ssl : first_other ? first_other : first_onion;
    if (el == BIO_ONION_ERROR_TRANSPORT && first_onion != 0 && first_ssl == 0)
        e = first_onion;
    if (e == 0) {
        snprintf(why, whylen, "%s",
                 el == BIO_ONION_ERROR_TRANSPORT ? "connection closed"
                     : errno != 0                ? strerror(errno)
                                                 : "failed");
        return;
    }
    if (ERR_GET_LIB(e) == ERR_LIB_SYS) {
        snprintf(why, whylen, "%s", strerror(ERR_GET_REASON(e)));
        return;
    }
    ERR_error_string_n(e, buf, sizeof(buf));
    if (ERR_reason_error_string(e) != NULL)
        snprintf(buf, sizeof(buf), "%s", ERR_reason_error_string(e));
    if (e == first_ssl && ssl_data != NULL && *ssl_data != '\0')
        snprintf(why, whylen, "%s (%s)", buf, ssl_data);
    else
        snprintf(why, whylen, "%s", buf);
}

void apps_describe_layer(char *out, size_t len, BIO *onion, int index)
{
    SSL *ssl = NULL;
    X509 *peer;
    char label[256], subject[256] = "none";
    const unsigned char *alpn = NULL;
    unsigned int alpn_len = 0;
    long vr;
    APPS_LAYER_SPEC *spec;
    int client;

    if (BIO_onion_get_ssl(onion, index, &ssl) != 1 || ssl == NULL) {
        ERR_clear_error();
        snprintf(out, len, "layer %d: gone", index);
        return;
    }
    spec = apps_ssl_spec(ssl);
    client = !SSL_is_server(ssl);
    apps_layer_label(label, sizeof(label), index, spec);
    peer = SSL_get0_peer_certificate(ssl);
    if (peer != NULL)
        X509_NAME_oneline(X509_get_subject_name(peer), subject,
                          sizeof(subject));
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    vr = SSL_get_verify_result(ssl);
    if (!client && peer == NULL)
        snprintf(subject, sizeof(subject), "no client certificate");
    snprintf(out, len, "%s: %s, %s, %s%s%s%s%s%s%.*s%s", label,
             SSL_get_version(ssl), SSL_get_cipher_name(ssl),
             client     ? "peer "
                 : peer ? "client certificate "
                        : "",
             subject,
             peer == NULL && !client ? ""
                 : vr == X509_V_OK   ? ", verify OK"
                                     : ", verify: ",
             peer != NULL && vr != X509_V_OK ? X509_verify_cert_error_string(vr)
                                             : "",
             client && spec != NULL && spec->verify == 0
                 ? " (not enforced: verify=0)"
                 : "",
             alpn_len ? ", ALPN " : "", (int)alpn_len,
             alpn ? (const char *)alpn : "",
             SSL_session_reused(ssl) ? ", resumed" : "");
}

void apps_print_layer(FILE *out, BIO *onion, int index)
{
    char line[1024];

    apps_describe_layer(line, sizeof(line), onion, index);
    fprintf(out, "%s: %s\n", apps_prog, line);
}
