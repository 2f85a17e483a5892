#!/bin/bash
# Per-layer certificate verification.  A wrong CA or a wrong name on an
# inner layer fails, and the message names that layer; verify=0 is needed
# to pass it.  Client certificates on an inner layer of onion-server too.
. "${srcdir:-$(dirname "$0")/../..}/test/integration/lib.sh"

gen_pki
mkdir -p "$T/www"
payload "$T/www/payload.bin" 500000

# expect_fail NAME MESSAGE CLIENT-ARGS...: onion-client must exit non-zero
# and print MESSAGE (a fixed string).
expect_fail() {
    local name=$1 msg=$2 st=0
    shift 2
    printf 'GET /payload.bin HTTP/1.0\r\n\r\n' |
        "$ONION_CLIENT" -connect "$@" >"$T/$name.out" 2>"$T/$name.log" ||
        st=$?
    [ "$st" -ne 0 ] || fail "$name: onion-client succeeded"
    grep -qF -- "$msg" "$T/$name.log" ||
        fail "$name: expected '$msg', got: $(cat "$T/$name.log")"
    [ ! -s "$T/$name.out" ] || fail "$name: data passed a failed layer"
    log "$name: exit status $st, '$(grep -F -- "$msg" "$T/$name.log")'"
}

# socat (layer0.test) in front of s_server -WWW presenting rogue.test, a
# certificate of the unrelated CA, on layer 1.
free_port P_ROGUE
start_in "$T/www" s_server_rogue openssl s_server \
    -accept "127.0.0.1:$P_ROGUE" -cert "$PKI/rogue.test.pem" \
    -key "$PKI/rogue.test.key" -WWW -quiet
wait_port "$P_ROGUE" "$LAST_PID" s_server_rogue
free_port P_R0
socat_tls_server socat_rogue "$P_R0" layer0.test "$P_ROGUE"

expect_fail wrong_ca \
    "onion-client: layer 1 (servername rogue.test): certificate verify failed: unable to get local issuer certificate" \
    "127.0.0.1:$P_R0" -layer "$(cli_spec layer0.test)" \
    -layer "$(cli_spec rogue.test)"
pass "wrong CA on layer 1 fails naming layer 1"

www_fetch rogue_verify0 "$P_R0" payload.bin -layer "$(cli_spec layer0.test)" \
    -layer "$(cli_spec rogue.test verify=0)"
grep -q "layer 1 (servername rogue.test): .*verify: unable to get local issuer certificate (not enforced: verify=0)" \
    "$T/rogue_verify0.log" || fail "verify=0: the summary does not show the verification result"
pass "verify=0 on layer 1 passes it, and says so"

# The right CA but the wrong name on the inner layer.
free_port P_GOOD
start_in "$T/www" s_server_good openssl s_server \
    -accept "127.0.0.1:$P_GOOD" -cert "$PKI/layer1.test.pem" \
    -key "$PKI/layer1.test.key" -WWW -quiet
wait_port "$P_GOOD" "$LAST_PID" s_server_good
free_port P_G0
stunnel_run stunnel_good "$P_G0" "$P_GOOD" no layer0.test

expect_fail wrong_name \
    "onion-client: layer 1 (servername wrong.test): certificate verify failed: hostname mismatch" \
    "127.0.0.1:$P_G0" -layer "$(cli_spec layer0.test)" \
    -layer "$(cli_spec wrong.test)"
pass "wrong name on layer 1 fails naming layer 1"

www_fetch wrong_name_verify0 "$P_G0" payload.bin \
    -layer "$(cli_spec layer0.test)" -layer "$(cli_spec wrong.test verify=0)"
pass "verify=0 on layer 1 passes the wrong name"

# The outer layer checked against the unrelated CA fails as layer 0.
expect_fail outer_wrong_ca \
    "onion-client: layer 0 (servername layer0.test): certificate verify failed: unable to get local issuer certificate" \
    "127.0.0.1:$P_G0" -layer "servername=layer0.test,CAfile=$PKI/other.pem" \
    -layer "$(cli_spec layer1.test)"
pass "wrong CA on layer 0 fails naming layer 0"

# onion-server asks for a client certificate on layer 1 only.
start_onion_server srv_cc -layer "$(srv_spec layer0.test)" \
    -layer "$(srv_spec layer1.test "CAfile=$PKI/ca.pem,verify=1")" -echo
printf 'with a client certificate\n' >"$T/cc.in"
"$ONION_CLIENT" -connect "127.0.0.1:$SERVER_PORT" -in "$T/cc.in" \
    -layer "$(cli_spec layer0.test)" \
    -layer "$(cli_spec layer1.test "cert=$PKI/client.test.pem,key=$PKI/client.test.key")" \
    >"$T/cc_good.out" 2>"$T/cc_good.log" || fail "client certificate refused"
same_sha "client certificate accepted" "$T/cc.in" "$T/cc_good.out"
wait_log "$T/srv_cc.log" 'layer 1: .*client certificate /CN=client.test, verify OK' 10

st=0
"$ONION_CLIENT" -connect "127.0.0.1:$SERVER_PORT" -in "$T/cc.in" \
    -layer "$(cli_spec layer0.test)" \
    -layer "$(cli_spec layer1.test "cert=$PKI/rogue.test.pem,key=$PKI/rogue.test.key")" \
    >"$T/cc_rogue.out" 2>"$T/cc_rogue.log" || st=$?
[ "$st" -ne 0 ] || fail "a client certificate of the unrelated CA was accepted"
grep -q "onion-client: layer 1 (servername layer1.test): .*unknown ca" \
    "$T/cc_rogue.log" || fail "client: the failure does not name layer 1: $(cat "$T/cc_rogue.log")"
wait_log "$T/srv_cc.log" \
    'onion-server: 127\.0\.0\.1:[0-9]+: layer 1: certificate verify failed: unable to get local issuer certificate$' 10
log "server: $(grep 'certificate verify failed' "$T/srv_cc.log")"
log "client: $(grep 'unknown ca' "$T/cc_rogue.log")"
pass "a client certificate of the unrelated CA fails layer 1 on both sides"
