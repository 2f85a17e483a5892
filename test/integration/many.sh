#!/bin/bash
# 50 onion-clients at once against one onion-server (depth 2, one event
# loop), each with its own payload checked by SHA-256.
. "${srcdir:-$(dirname "$0")/../..}/test/integration/lib.sh"

N=50
gen_pki
start_onion_server srv -layer "$(srv_spec layer0.test)" \
    -layer "$(srv_spec layer1.test)" -echo
cpids=()
for i in $(seq 1 $N); do
    # Payloads of different sizes, 64 KiB to 256 KiB.
    payload "$T/in$i" $((65536 + (i * 3931) % 196608))
done
for i in $(seq 1 $N); do
    "$ONION_CLIENT" -connect "127.0.0.1:$SERVER_PORT" -quiet -in "$T/in$i" \
        -layer "$(cli_spec layer0.test)" -layer "$(cli_spec layer1.test)" \
        >"$T/out$i" 2>"$T/client$i.err" &
    cpids+=($!)
    PIDS+=($!)
done
log "started $N onion-clients"
failed=0
for i in $(seq 1 $N); do
    st=0
    wait "${cpids[$((i - 1))]}" || st=$?
    if [ "$st" -ne 0 ]; then
        echo "client $i exited with status $st: $(cat "$T/client$i.err")"
        failed=$((failed + 1))
    elif [ "$(sha "$T/in$i")" != "$(sha "$T/out$i")" ]; then
        echo "client $i: SHA-256 differs"
        failed=$((failed + 1))
    fi
done
[ "$failed" -eq 0 ] || fail "$failed of $N clients failed"
wait_log "$T/srv.log" 'closed cleanly' 10
for i in $(seq 1 100); do
    [ "$(grep -c 'closed cleanly$' "$T/srv.log")" -eq $N ] && break
    sleep 0.05
done
[ "$(grep -c 'closed cleanly$' "$T/srv.log")" -eq $N ] ||
    fail "the server saw $(grep -c 'closed cleanly$' "$T/srv.log") clean ends, not $N"
! grep -v -e 'closed cleanly$' -e ': layer [01]: TLSv1.3' -e 'accepting on' "$T/srv.log" ||
    fail "unexpected lines in the server log"
log "$N payloads ($(cat "$T"/in* | wc -c) bytes) echoed, SHA-256 of each matches"
pass "$N clients at once, all clean on both sides"
