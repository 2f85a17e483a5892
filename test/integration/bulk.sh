#!/bin/bash
# 100 MiB through onion-client and onion-server at depth 3, both ways at
# once (echo), checked by SHA-256.
. "${srcdir:-$(dirname "$0")/../..}/test/integration/lib.sh"

gen_pki
payload "$T/big.bin" $((100 * 1024 * 1024))
want=$(sha "$T/big.bin")

start_onion_server srv -layer "$(srv_spec layer0.test)" \
    -layer "$(srv_spec layer1.test max=TLSv1.2)" \
    -layer "$(srv_spec layer2.test)" -echo -once
start_s=$(date +%s.%N)
got=$("$ONION_CLIENT" -connect "127.0.0.1:$SERVER_PORT" -in "$T/big.bin" \
    -layer "$(cli_spec layer0.test)" -layer "$(cli_spec layer1.test)" \
    -layer "$(cli_spec layer2.test ciphersuites=TLS_AES_128_GCM_SHA256)" \
    2>"$T/client.log" | sha256sum | cut -d' ' -f1) ||
    fail "onion-client failed"
end_s=$(date +%s.%N)
wait_exit "$SERVER_PID" 20
[ "$EXIT_STATUS" -eq 0 ] || fail "onion-server -once exited with status $EXIT_STATUS"
[ "$got" = "$want" ] || fail "SHA-256 differs: sent $want, got $got"
log "100 MiB echoed at depth 3: SHA-256 $got matches"
log "$(awk -v a="$start_s" -v b="$end_s" 'BEGIN { printf "%.2f s, %.1f MiB/s each way", b - a, 100 / (b - a) }')"
grep -q 'layer 1 (servername layer1.test): TLSv1.2' "$T/client.log" &&
    grep -q 'layer 2 (servername layer2.test): TLSv1.3, TLS_AES_128_GCM_SHA256' "$T/client.log" ||
    fail "the layers did not use the parameters asked for"
pass "100 MiB at depth 3 (TLS 1.3 / 1.2 / 1.3)"
