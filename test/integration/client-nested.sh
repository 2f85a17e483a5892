#!/bin/bash
# onion-client at depth 2 and 3 against nested servers made of independent
# parts: openssl s_server -WWW terminates the innermost layer, socat and
# stunnel terminate the outer ones.  Downloads and uploads are checked by
# SHA-256.
. "${srcdir:-$(dirname "$0")/../..}/test/integration/lib.sh"

gen_pki
mkdir -p "$T/www"
payload "$T/www/payload.bin" 3000000

# onion-client NAME PORT CLIENT-ARGS...: fetch payload.bin, check the
# SHA-256 and the summary line of the innermost layer.
fetch() {
    local name=$1 port=$2
    shift 2
    www_fetch "$name" "$port" payload.bin "$@"
    grep -q "^onion-client: layer $(($# / 2 - 1)) " "$T/$name.log" ||
        fail "$name: no summary line for the innermost layer"
}

# Depth 2: socat (layer 0) -> s_server -WWW (layer 1).
free_port P_INNER
start_in "$T/www" s_server2 openssl s_server -accept "127.0.0.1:$P_INNER" \
    -cert "$PKI/layer1.test.pem" -key "$PKI/layer1.test.key" -WWW -quiet
wait_port "$P_INNER" "$LAST_PID" s_server2
free_port P_OUTER
socat_tls_server socat2 "$P_OUTER" layer0.test "$P_INNER"
fetch depth2 "$P_OUTER" \
    -layer "$(cli_spec layer0.test)" -layer "$(cli_spec layer1.test)"
pass "depth 2: socat + s_server -WWW"

# Depth 3: socat (layer 0) -> stunnel (layer 1) -> s_server -WWW (layer 2).
free_port P3_INNER
start_in "$T/www" s_server3 openssl s_server -accept "127.0.0.1:$P3_INNER" \
    -cert "$PKI/layer2.test.pem" -key "$PKI/layer2.test.key" -WWW -quiet
wait_port "$P3_INNER" "$LAST_PID" s_server3
free_port P3_MID
stunnel_run stunnel3 "$P3_MID" "$P3_INNER" no layer1.test
free_port P3_OUTER
socat_tls_server socat3 "$P3_OUTER" layer0.test "$P3_MID"
fetch depth3 "$P3_OUTER" -layer "$(cli_spec layer0.test)" \
    -layer "$(cli_spec layer1.test)" -layer "$(cli_spec layer2.test)"
pass "depth 3: socat + stunnel + s_server -WWW"

# Upload at depth 3, TLS 1.2 inside TLS 1.3 inside TLS 1.2: s_server
# prints what it receives; the client closes every layer at the end of
# its input and s_server sees the close_notify.
free_port P4_INNER
hold_stdin
start up_s_server openssl s_server -accept "127.0.0.1:$P4_INNER" \
    -cert "$PKI/layer2.test.pem" -key "$PKI/layer2.test.key" -quiet \
    -naccept 1
UP_PID=$LAST_PID
wait_port "$P4_INNER" "$UP_PID" up_s_server
free_port P4_MID
stunnel_run up_stunnel "$P4_MID" "$P4_INNER" no layer1.test
free_port P4_OUTER
socat_tls_server up_socat "$P4_OUTER" layer0.test "$P4_MID"
payload "$T/up.bin" 2000000
"$ONION_CLIENT" -connect "127.0.0.1:$P4_OUTER" -in "$T/up.bin" \
    -layer "$(cli_spec layer0.test max=TLSv1.2)" \
    -layer "$(cli_spec layer1.test min=TLSv1.3)" \
    -layer "$(cli_spec layer2.test max=TLSv1.2)" \
    >"$T/upload.out" 2>"$T/upload.log" ||
    fail "upload: onion-client exited with status $?"
wait_exit "$UP_PID" 10
same_sha upload "$T/up.bin" "$T/up_s_server.log"
grep -q "layer 0 (servername layer0.test): TLSv1.2" "$T/upload.log" &&
    grep -q "layer 1 (servername layer1.test): TLSv1.3" "$T/upload.log" &&
    grep -q "layer 2 (servername layer2.test): TLSv1.2" "$T/upload.log" ||
    fail "upload: the layers did not use the protocols asked for"
pass "depth 3 upload, TLS 1.2 / 1.3 / 1.2"

# In-band STOPTLS sent by the peer: s_server (layer 1, behind socat) sends
# a line and then STOPTLS from its stdin; onion-client -inband pops layer 1
# after reading it, s_server answers the close_notify and hangs up, socat
# then closes layer 0, and the client ends cleanly.
mkfifo "$T/s_server_in.fifo" "$T/client_in.fifo"
START_STDIN=$T/s_server_in.fifo
free_port P5_INNER
start s_server_stoptls openssl s_server -accept "127.0.0.1:$P5_INNER" \
    -cert "$PKI/layer1.test.pem" -key "$PKI/layer1.test.key" -quiet \
    -naccept 1
S5_PID=$LAST_PID
wait_port "$P5_INNER" "$S5_PID" s_server_stoptls
free_port P5_OUTER
socat_tls_server socat_stoptls "$P5_OUTER" layer0.test "$P5_INNER"
setsid "$ONION_CLIENT" -connect "127.0.0.1:$P5_OUTER" -inband \
    -layer "$(cli_spec layer0.test)" -layer "$(cli_spec layer1.test)" \
    0<>"$T/client_in.fifo" >"$T/stoptls.out" 2>"$T/stoptls.log" &
C5_PID=$!
PIDS+=("$C5_PID")
wait_log "$T/stoptls.log" 'layer 1 \(servername layer1.test\): TLSv1.3' 10
printf 'hello from s_server\nSTOPTLS\n' >"$T/s_server_in.fifo"
wait_exit "$C5_PID" 10
[ "$EXIT_STATUS" -eq 0 ] || fail "peer STOPTLS: onion-client exited with status $EXIT_STATUS"
printf 'hello from s_server\n' >"$T/stoptls.expect"
same_sha "peer STOPTLS" "$T/stoptls.expect" "$T/stoptls.out"
grep -q 'layer 1 (servername layer1.test): closed' "$T/stoptls.log" &&
    grep -q 'layer 0 (servername layer0.test): closed' "$T/stoptls.log" ||
    fail "peer STOPTLS: the layers were not closed"
pass "in-band STOPTLS from s_server pops layer 1, then the peers close layer 0"
