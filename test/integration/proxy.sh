#!/bin/bash
# TLS in TLS through an HTTPS proxy made of real parts: stunnel terminates
# TLS (layer 0, proxy.test) in front of tinyproxy, which opens the CONNECT
# tunnel to openssl s_server -WWW (layer 1, origin.test).  onion-client
# fetches a file through it; the SHA-256 must match.
. "${srcdir:-$(dirname "$0")/../..}/test/integration/lib.sh"

need tinyproxy tinyproxy
gen_pki
mkdir -p "$T/www"
payload "$T/www/file.bin" 4000000

free_port P_ORIGIN
start_in "$T/www" origin openssl s_server -accept "127.0.0.1:$P_ORIGIN" \
    -cert "$PKI/origin.test.pem" -key "$PKI/origin.test.key" -WWW -quiet
wait_port "$P_ORIGIN" "$LAST_PID" origin

# tinyproxy with a config of its own, in the foreground, on a free port.
free_port P_PROXY
cat >"$T/tinyproxy.conf" <<CONF
Port $P_PROXY
Listen 127.0.0.1
Timeout 30
Allow 127.0.0.1
ConnectPort $P_ORIGIN
MaxClients 20
LogLevel Info
Syslog Off
DisableViaHeader Yes
CONF
start tinyproxy tinyproxy -d -c "$T/tinyproxy.conf"
wait_port "$P_PROXY" "$LAST_PID" tinyproxy

# stunnel: the proxy's TLS front (an HTTPS proxy).
free_port P_FRONT
stunnel_run stunnel "$P_FRONT" "$P_PROXY" no proxy.test

www_fetch via_proxy "$P_FRONT" file.bin -layer "$(cli_spec proxy.test)" \
    -http-connect "127.0.0.1:$P_ORIGIN" -layer "$(cli_spec origin.test)"
grep -q "tunnel to 127.0.0.1:$P_ORIGIN: HTTP/1.[01] 200" "$T/via_proxy.log" ||
    fail "no CONNECT reply line in the client's summary"
grep -q 'layer 1 (servername origin.test): TLSv1.3' "$T/via_proxy.log" ||
    fail "layer 1 is not the origin's"
pass "HTTPS proxy (stunnel + tinyproxy) to s_server -WWW: TLS in TLS"

# A CONNECT the proxy refuses is a clear error with its status line.
st=0
"$ONION_CLIENT" -connect "127.0.0.1:$P_FRONT" -layer "$(cli_spec proxy.test)" \
    -http-connect "127.0.0.1:$P_FRONT" -layer "$(cli_spec origin.test)" \
    </dev/null >"$T/refused.out" 2>"$T/refused.log" || st=$?
[ "$st" -ne 0 ] || fail "a refused CONNECT did not fail"
grep -Eq "^onion-client: -http-connect 127.0.0.1:$P_FRONT: proxy answered: HTTP/1.[01] 403" \
    "$T/refused.log" || fail "refused CONNECT: $(cat "$T/refused.log")"
log "$(grep 'proxy answered' "$T/refused.log")"
pass "a refused CONNECT fails with the proxy's status line"
