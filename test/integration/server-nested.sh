#!/bin/bash
# onion-server at depth 2 and 3 against nested clients made of independent
# parts: openssl s_client speaks the innermost layer, socat and stunnel
# (client mode) add the outer ones.  Data checked by SHA-256.
. "${srcdir:-$(dirname "$0")/../..}/test/integration/lib.sh"

gen_pki
payload "$T/payload.bin" 3000000

s_client() { # PORT SERVERNAME: the innermost layer, verifying its name
    openssl s_client -connect "127.0.0.1:$1" -servername "$2" \
        -CAfile "$PKI/ca.pem" -verify_return_error -verify_hostname "$2" \
        -quiet
}

# Depth 2, -file: s_client -> socat (layer 0) -> onion-server.  The reply
# carries Connection: close, so onion-server closes every layer, and
# s_client ends when its layer is closed.
start_onion_server srv2 -layer "$(srv_spec layer0.test)" \
    -layer "$(srv_spec layer1.test)" -file "$T/payload.bin"
free_port P2
socat_tls_client socat2 "$P2" layer0.test "$SERVER_PORT"
printf 'GET /any HTTP/1.1\r\nHost: layer1.test\r\nConnection: close\r\n\r\n' |
    s_client "$P2" layer1.test >"$T/depth2.out" 2>"$T/s_client2.log" ||
    fail "depth 2: s_client exited with status $?"
grep -q '^HTTP/1.1 200 OK' "$T/depth2.out" || fail "depth 2: no 200 reply"
grep -q '^Content-Length: 3000000' "$T/depth2.out" ||
    fail "depth 2: wrong Content-Length"
tail -c 3000000 "$T/depth2.out" >"$T/depth2.body"
same_sha "depth 2 -file" "$T/payload.bin" "$T/depth2.body"
[ "$(stat -c %s "$T/depth2.out")" -lt 3000200 ] || fail "depth 2: extra bytes"
wait_log "$T/srv2.log" 'closed cleanly$' 10
pass "depth 2: socat + s_client against onion-server -file"

# Depth 3, -echo -inband: s_client -> stunnel (layer 1) -> socat (layer 0)
# -> onion-server.  The input ends with a STOPTLS line: onion-server pops
# the innermost layer after reading it, which ends s_client.
start_onion_server srv3 -layer "$(srv_spec layer0.test)" \
    -layer "$(srv_spec layer1.test)" -layer "$(srv_spec layer2.test)" \
    -echo -inband
free_port P3_OUT
socat_tls_client socat3 "$P3_OUT" layer0.test "$SERVER_PORT"
free_port P3_MID
stunnel_run stunnel3 "$P3_MID" "$P3_OUT" yes layer1.test
{ cat "$T/payload.bin"; printf '\nSTOPTLS\n'; } >"$T/echo.in"
{ cat "$T/payload.bin"; printf '\n'; } >"$T/echo.expect"
s_client "$P3_MID" layer2.test <"$T/echo.in" >"$T/depth3.out" \
    2>"$T/s_client3.log" || fail "depth 3: s_client exited with status $?"
same_sha "depth 3 -echo" "$T/echo.expect" "$T/depth3.out"
wait_log "$T/srv3.log" 'closed cleanly$' 10
pass "depth 3: stunnel + socat + s_client against onion-server -echo"

# Depth 3, -www: the page lists the three layers as the server saw them.
start_onion_server srv3w -layer "$(srv_spec layer0.test)" \
    -layer "$(srv_spec layer1.test max=TLSv1.2)" \
    -layer "$(srv_spec layer2.test)" -www
free_port P3W_OUT
socat_tls_client socat3w "$P3W_OUT" layer0.test "$SERVER_PORT"
free_port P3W_MID
stunnel_run stunnel3w "$P3W_MID" "$P3W_OUT" yes layer1.test
printf 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
    s_client "$P3W_MID" layer2.test >"$T/www.out" 2>"$T/s_client3w.log" ||
    fail "-www: s_client exited with status $?"
grep -q '3 TLS layers' "$T/www.out" &&
    grep -q '^layer 0: TLSv1.3' "$T/www.out" &&
    grep -q '^layer 1: TLSv1.2' "$T/www.out" &&
    grep -q '^layer 2: TLSv1.3' "$T/www.out" || fail "-www: wrong page: $(cat "$T/www.out")"
log "-www page: $(tr '\r\n' '  ' <"$T/www.out" | tail -c 400)"
wait_log "$T/srv3w.log" 'closed cleanly$' 10
pass "depth 3: -www page lists every layer"
