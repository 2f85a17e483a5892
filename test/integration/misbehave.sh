#!/bin/bash
# Clients that misbehave (garbage, a drop in the handshake, stalls) against
# one onion-server at depth 2: each costs only its own connection and one
# log line naming the layer and the reason; good clients are served
# meanwhile.
. "${srcdir:-$(dirname "$0")/../..}/test/integration/lib.sh"

need socat socat
gen_pki
printf 'a good client\n' >"$T/good.in"
good_client() { # NAME
    "$ONION_CLIENT" -connect "127.0.0.1:$SERVER_PORT" -in "$T/good.in" \
        -layer "$(cli_spec layer0.test)" -layer "$(cli_spec layer1.test)" \
        >"$T/$1.out" 2>"$T/$1.log" || fail "$1: onion-client failed"
    same_sha "$1" "$T/good.in" "$T/$1.out"
}
errors() {
    grep -v -e 'closed cleanly$' -e ': layer [01]: TLSv1.3' -e 'accepting on' \
        "$T/srv.log" || true
}
# expect_error N PATTERN: the server logged N failure lines, the last one
# matching PATTERN (grep -E).
expect_error() {
    local i
    for i in $(seq 1 200); do
        [ "$(errors | wc -l)" -ge "$1" ] && break
        sleep 0.05
    done
    [ "$(errors | wc -l)" -eq "$1" ] ||
        fail "expected $1 failure lines, got: $(errors)"
    errors | tail -n 1 | grep -Eq "^onion-server: 127\.0\.0\.1:[0-9]+: $2" ||
        fail "expected '$2', got: $(errors | tail -n 1)"
    log "server: $(errors | tail -n 1)"
}

start_onion_server srv -layer "$(srv_spec layer0.test)" \
    -layer "$(srv_spec layer1.test)" -echo -timeout 3
hold_stdin

# Two stalled clients, one before layer 0 and one inside it, held open
# while the rest goes on.
exec 5<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
start stall1 socat - \
    "OPENSSL:127.0.0.1:$SERVER_PORT,cafile=$PKI/ca.pem,commonname=layer0.test,snihost=layer0.test"

good_client good1

# Garbage instead of the first ClientHello.
printf 'GET / HTTP/1.0\r\n\r\n' | socat -t 5 - "TCP:127.0.0.1:$SERVER_PORT" \
    >/dev/null 2>&1 || true
expect_error 1 'layer 0: .*(http request|wrong version number|unknown protocol)'

# Garbage inside a good layer 0, where layer 1's ClientHello belongs.
head -c 3000 /dev/urandom | socat -t 5 - \
    "OPENSSL:127.0.0.1:$SERVER_PORT,cafile=$PKI/ca.pem,commonname=layer0.test,snihost=layer0.test" \
    >/dev/null 2>&1 || true
expect_error 2 'layer 1: '

# The start of a ClientHello, then the connection drops.
printf '\026\003\001\002\000\001\000\001\374\003\003abcdefgh' |
    socat -t 5 - "TCP:127.0.0.1:$SERVER_PORT" >/dev/null 2>&1 || true
expect_error 3 '(layer 0|transport below layer 0): '

good_client good2

# The stalled clients are cut by -timeout, each with one line.
expect_error 5 'layer [01]: timed out: no progress for 3 s in the handshake'
errors | grep -q 'layer 0: timed out' && errors | grep -q 'layer 1: timed out' ||
    fail "the two stalls were not both reported: $(errors)"
exec 5>&-
good_client good3
kill -0 "$SERVER_PID" || fail "onion-server died"
pass "garbage, a dropped handshake and two stalls: 5 connections, 5 lines, good clients served"
