#!/bin/bash
# onion-client and onion-server as a new user meets them: -help, -version,
# wrong usage, a refused connection, a failed layer, and -once's status.
. "${srcdir:-$(dirname "$0")/../..}/test/integration/lib.sh"

# expect_status WANT NAME CMD...: WANT is 0 or "nonzero".
expect_status() {
    local want=$1 name=$2 st=0
    shift 2
    "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null || st=$?
    if [ "$want" = 0 ]; then
        [ "$st" -eq 0 ] || fail "$name: exit status $st: $(cat "$T/$name.err")"
    else
        [ "$st" -ne 0 ] || fail "$name: exit status 0"
    fi
}

version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$top_builddir/config.h")
[ -n "$version" ] || fail "no PACKAGE_VERSION in config.h"
for tool in onion-client onion-server; do
    bin=$top_builddir/apps/$tool
    expect_status 0 "$tool-help" "$bin" -help
    grep -q "^usage: $tool " "$T/$tool-help.out" || fail "$tool -help: no usage line"
    for opt in -layer -http-connect -starttls -inband -keylogfile -quiet; do
        grep -q -- "$opt" "$T/$tool-help.out" || fail "$tool -help does not mention $opt"
    done
    expect_status 0 "$tool-version" "$bin" -version
    grep -qx "$tool (bio_onion) $version" "$T/$tool-version.out" ||
        fail "$tool -version: $(cat "$T/$tool-version.out")"
    expect_status nonzero "$tool-noargs" "$bin"
    grep -q "is required" "$T/$tool-noargs.err" || fail "$tool without arguments: $(cat "$T/$tool-noargs.err")"
    expect_status nonzero "$tool-badopt" "$bin" -bogus
    grep -q "unknown option" "$T/$tool-badopt.err" || fail "$tool -bogus: $(cat "$T/$tool-badopt.err")"
done
for w in -in -echo -www -file -once -timeout; do
    grep -q -- "$w" "$T/onion-client-help.out" "$T/onion-server-help.out" ||
        fail "-help does not mention $w"
done
pass "-help, -version and wrong usage"

gen_pki
expect_status nonzero badkey "$ONION_CLIENT" -connect 127.0.0.1:1 -layer colour=blue
grep -q "unknown key 'colour'" "$T/badkey.err" || fail "bad SPEC key: $(cat "$T/badkey.err")"
expect_status nonzero badcert "$ONION_SERVER" -accept 127.0.0.1:0 \
    -layer "cert=$T/missing.pem"
grep -q "layer 0: cannot load cert $T/missing.pem" "$T/badcert.err" ||
    fail "missing cert: $(cat "$T/badcert.err")"
expect_status nonzero starttls_last "$ONION_CLIENT" -connect 127.0.0.1:1 -starttls
grep -q -- "-starttls must be followed by -layer" "$T/starttls_last.err" ||
    fail "-starttls last: $(cat "$T/starttls_last.err")"
free_port P_CLOSED
expect_status nonzero refused "$ONION_CLIENT" -connect "127.0.0.1:$P_CLOSED" \
    -layer "$(cli_spec layer0.test)"
grep -q "connect to 127.0.0.1:$P_CLOSED: Connection refused" "$T/refused.err" ||
    fail "refused: $(cat "$T/refused.err")"
pass "bad SPEC, missing certificate, misplaced -starttls, refused connection"

# A client whose layer 1 fails: the client names the layer, and
# onion-server -once exits non-zero because the connection did not end
# cleanly; after a clean connection it exits 0.
start_onion_server srv_fail -layer "$(srv_spec layer0.test)" \
    -layer "$(srv_spec layer1.test)" -once
expect_status nonzero layer1_fail "$ONION_CLIENT" \
    -connect "127.0.0.1:$SERVER_PORT" -layer "$(cli_spec layer0.test)" \
    -layer "servername=layer1.test,CAfile=$PKI/other.pem"
grep -q "^onion-client: layer 1 (servername layer1.test): certificate verify failed: unable to get local issuer certificate$" \
    "$T/layer1_fail.err" || fail "layer 1 failure: $(cat "$T/layer1_fail.err")"
wait_exit "$SERVER_PID" 10
[ "$EXIT_STATUS" -ne 0 ] || fail "onion-server -once exited 0 after a failed connection"
grep -q ': layer 1: .*unknown ca' "$T/srv_fail.log" ||
    fail "the server did not log layer 1's failure"
log "server: $(grep ': layer 1: .*unknown ca' "$T/srv_fail.log")"

start_onion_server srv_ok -layer "$(srv_spec layer0.test)" -once -quiet
echo hi >"$T/hi"
expect_status 0 quiet_ok "$ONION_CLIENT" -connect "127.0.0.1:$SERVER_PORT" \
    -quiet -in "$T/hi" -layer "$(cli_spec layer0.test)"
[ ! -s "$T/quiet_ok.err" ] || fail "-quiet printed: $(cat "$T/quiet_ok.err")"
same_sha "-quiet echo" "$T/hi" "$T/quiet_ok.out"
wait_exit "$SERVER_PID" 10
[ "$EXIT_STATUS" -eq 0 ] || fail "onion-server -once exited $EXIT_STATUS after a clean connection"
pass "-once exit status follows the connection; failures name the layer"

# With no standard input at all (closed, as under some CI runners), the
# client must not take its socket for stdin: it connects, finds no input,
# and closes cleanly.
start_onion_server srv_nostdin -layer "$(srv_spec layer0.test)" -once
st=0
"$ONION_CLIENT" -connect "127.0.0.1:$SERVER_PORT" \
    -layer "$(cli_spec layer0.test)" <&- >"$T/nostdin.out" 2>"$T/nostdin.err" || st=$?
[ "$st" -eq 0 ] || fail "closed stdin: exit status $st: $(cat "$T/nostdin.err")"
wait_exit "$SERVER_PID" 10
[ "$EXIT_STATUS" -eq 0 ] || fail "closed stdin: onion-server exited $EXIT_STATUS"
pass "closed standard input: connect, close cleanly"
