#!/bin/bash
# onion-client against onion-server: every combination of the steps
# (-layer, -http-connect, -starttls) up to three steps, in-band STOPTLS and
# STARTTLS down to plaintext and back, the -www and -file modes, ALPN,
# session resumption and the key log.  Data checked by SHA-256.
. "${srcdir:-$(dirname "$0")/../..}/test/integration/lib.sh"

gen_pki
payload "$T/payload.bin" 200000

# Step sequences over L (-layer), H (-http-connect), S (-starttls): every
# sequence of one to three steps in which -starttls is followed by -layer.
combos=()
for a in L H S; do
    for b in "" L H S; do
        for c in "" L H S; do
            [ -z "$b" ] && [ -n "$c" ] && continue
            seq_=$a$b$c
            case "$seq_" in *S | *S[HS]*) continue ;; esac
            combos+=("$seq_")
        done
    done
done

n_ok=0
for combo in "${combos[@]}"; do
    srv=() cli=() depth=0
    for ((i = 0; i < ${#combo}; i++)); do
        case "${combo:i:1}" in
        L)
            srv+=(-layer "$(srv_spec "layer$depth.test")")
            cli+=(-layer "$(cli_spec "layer$depth.test")")
            depth=$((depth + 1))
            ;;
        H)
            srv+=(-http-connect)
            cli+=(-http-connect "tunnel$i.test:443")
            ;;
        S)
            srv+=(-starttls)
            cli+=(-starttls)
            ;;
        esac
    done
    start_onion_server "srv_$combo" "${srv[@]}" -echo -once
    "$ONION_CLIENT" -connect "127.0.0.1:$SERVER_PORT" "${cli[@]}" \
        -in "$T/payload.bin" >"$T/$combo.out" 2>"$T/cli_$combo.log" ||
        fail "steps $combo: onion-client exited with status $?"
    wait_exit "$SERVER_PID" 10
    [ "$EXIT_STATUS" -eq 0 ] ||
        fail "steps $combo: onion-server -once exited with status $EXIT_STATUS"
    same_sha "steps $combo (${cli[*]//$PKI\//})" "$T/payload.bin" "$T/$combo.out"
    case "$combo" in
    S* | HS*)
        # At depth 0 the line and the ClientHello leave in one segment
        # (onion-client corks them): the server reads both at once and must
        # hand the bytes past the line to the new layer.
        past=$(sed -n 's/.*STARTTLS: layer 0 pushed with \([0-9]*\) bytes read past the line$/\1/p' \
            "$T/srv_$combo.log")
        [ -n "$past" ] && [ "$past" -gt 0 ] ||
            fail "steps $combo: the ClientHello did not come with the STARTTLS line ($past)"
        log "steps $combo: $past bytes of the handshake read with the STARTTLS line"
        ;;
    esac
    n_ok=$((n_ok + 1))
done
pass "$n_ok step combinations (${combos[*]}), both sides clean"

# In-band: down to plaintext and back up.  The script types into the
# client's stdin and waits for the echo before each STARTTLS: a STARTTLS
# does not wait for the peer, so echoed bytes still in flight on the old
# innermost stream would reach the new layer (a STOPTLS needs no wait: the
# pop ends at the peer's close_notify, after all of its data).
start_onion_server srv_inband -layer "$(srv_spec layer0.test)" \
    -layer "$(srv_spec layer1.test)" -echo -inband -once
mkfifo "$T/inband.fifo"
setsid "$ONION_CLIENT" -connect "127.0.0.1:$SERVER_PORT" -inband \
    -layer "$(cli_spec layer0.test)" -layer "$(cli_spec layer1.test)" \
    <"$T/inband.fifo" >"$T/inband.out" 2>"$T/inband.log" &
CLIENT_PID=$!
PIDS+=("$CLIENT_PID")
exec 3>"$T/inband.fifo"
type_wait() { # TEXT-TO-TYPE ECHO-TO-WAIT-FOR
    printf "$1" >&3
    wait_log "$T/inband.out" "$2" 10
}
head -c 70000 "$T/payload.bin" >&3
type_wait '\nat depth 2\nSTOPTLS\nat depth 1\nSTOPTLS\nat depth 0, plaintext\n' \
    '^at depth 0, plaintext$'
type_wait 'STARTTLS\nat depth 1 again\n' '^at depth 1 again$'
type_wait 'STARTTLS\r\nat depth 2 again\nSTOPTLS\nat depth 1, third time\n' \
    '^at depth 1, third time$'
printf 'STARTTLS\n' >&3
tail -c 70000 "$T/payload.bin" >&3
exec 3>&-
wait_exit "$CLIENT_PID" 10
[ "$EXIT_STATUS" -eq 0 ] || fail "in-band: onion-client exited with status $EXIT_STATUS"
wait_exit "$SERVER_PID" 10
[ "$EXIT_STATUS" -eq 0 ] || fail "in-band: onion-server exited with status $EXIT_STATUS"
{
    head -c 70000 "$T/payload.bin"
    printf '\nat depth 2\nat depth 1\nat depth 0, plaintext\n'
    printf 'at depth 1 again\nat depth 2 again\nat depth 1, third time\n'
    tail -c 70000 "$T/payload.bin"
} >"$T/inband.expect"
same_sha "in-band STOPTLS/STARTTLS" "$T/inband.expect" "$T/inband.out"
[ "$(grep -c 'layer 1 (servername layer1.test): closed' "$T/inband.log")" -eq 3 ] ||
    fail "in-band: layer 1 was not popped three times"
[ "$(grep -c 'layer 1 (servername layer1.test): TLSv1.3' "$T/inband.log")" -eq 3 ] ||
    fail "in-band: layer 1 was not pushed three times"
[ "$(grep -c 'layer 0 (servername layer1.test): TLSv1.3' "$T/inband.log")" -eq 1 ] ||
    fail "in-band: the last -layer was not pushed again as layer 0"
pass "in-band STOPTLS then STARTTLS again, down to plaintext and back"

# -www over -http-connect: keep-alive, two requests, one connection.
start_onion_server srv_www -layer "$(srv_spec layer0.test alpn=http/1.1)" \
    -http-connect -layer "$(srv_spec layer1.test)" -www -once
printf 'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /again HTTP/1.1\r\nHost: a\r\n\r\n' |
    "$ONION_CLIENT" -connect "127.0.0.1:$SERVER_PORT" \
        -layer "$(cli_spec layer0.test alpn=h2:http/1.1)" \
        -http-connect layer1.test:443 -layer "servername=layer1.test,CAfile=$PKI/ca.pem" \
        >"$T/www.out" 2>"$T/www.log" || fail "-www: onion-client failed"
wait_exit "$SERVER_PID" 10
[ "$EXIT_STATUS" -eq 0 ] || fail "-www: onion-server exited with status $EXIT_STATUS"
[ "$(grep -c '^HTTP/1.1 200 OK' "$T/www.out")" -eq 2 ] || fail "-www: not two replies"
grep -q '^layer 1: TLSv1.3' "$T/www.out" || fail "-www: layer 1 missing from the page"
grep -q 'layer 0 (servername layer0.test): .*ALPN http/1.1' "$T/www.log" ||
    fail "-www: ALPN not negotiated on layer 0"
pass "-www over -http-connect, keep-alive, ALPN on layer 0"

# -file: the client closes its input at once; the server still sends the
# whole reply before it answers the close (TLS half-close on each layer).
start_onion_server srv_file -layer "$(srv_spec layer0.test)" \
    -layer "$(srv_spec layer1.test)" -file "$T/payload.bin" -once
printf 'GET /x HTTP/1.1\r\nHost: a\r\n\r\n' |
    "$ONION_CLIENT" -connect "127.0.0.1:$SERVER_PORT" \
        -layer "$(cli_spec layer0.test)" -layer "$(cli_spec layer1.test)" \
        -keylogfile "$T/keys.log" >"$T/file.out" 2>"$T/file.log" ||
    fail "-file: onion-client failed"
wait_exit "$SERVER_PID" 10
[ "$EXIT_STATUS" -eq 0 ] || fail "-file: onion-server exited with status $EXIT_STATUS"
tail -c 200000 "$T/file.out" >"$T/file.body"
same_sha "-file" "$T/payload.bin" "$T/file.body"
[ "$(grep -c '^CLIENT_TRAFFIC_SECRET_0 ' "$T/keys.log")" -eq 2 ] ||
    fail "-keylogfile: expected the traffic secrets of 2 layers"
pass "-file with the client's input closed first; -keylogfile has both layers"

# Session resumption on the inner layer.
start_onion_server srv_sess -layer "$(srv_spec layer0.test)" \
    -layer "$(srv_spec layer1.test)" -echo
for round in 1 2; do
    if [ $round = 1 ]; then sess=sess_out; else sess=sess_in; fi
    echo "round $round" >"$T/sess$round.in"
    "$ONION_CLIENT" -connect "127.0.0.1:$SERVER_PORT" -in "$T/sess$round.in" \
        -layer "$(cli_spec layer0.test)" \
        -layer "$(cli_spec layer1.test "$sess=$T/layer1.sess")" \
        >"$T/sess$round.out" 2>"$T/sess$round.log" ||
        fail "resumption round $round failed"
    same_sha "resumption round $round" "$T/sess$round.in" "$T/sess$round.out"
done
grep -q 'layer 1 (servername layer1.test): .*resumed' "$T/sess2.log" ||
    fail "layer 1 was not resumed: $(cat "$T/sess2.log")"
! grep -q 'layer 0 .*resumed' "$T/sess2.log" || fail "layer 0 resumed unasked"
pass "session resumption on layer 1 only"
