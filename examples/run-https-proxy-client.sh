#!/bin/bash
# Runs examples/https_proxy_client through a real HTTPS proxy made of
# Debian's parts, all on 127.0.0.1 with ports chosen at run time:
#
#   https_proxy_client --TLS--> stunnel --> tinyproxy --CONNECT-->
#                                      openssl s_server -WWW (TLS, the origin)
#
# Checks: the fetched file's SHA-256 equals the served file's; a client
# that trusts another CA fails and names the layer; a CONNECT to a port
# where nothing listens is reported as refused by the proxy.
set -u

top=$(pwd)
client="$top/examples/https_proxy_client"
dir=$(mktemp -d) || exit 1
pids=""

cleanup() {
    for pid in $pids; do
        kill "$pid" 2>/dev/null
    done
    for pid in $pids; do
        wait "$pid" 2>/dev/null
    done
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "FAIL: $*"
    for log in "$dir"/*.log; do
        [ -f "$log" ] && { echo "--- $log"; tail -n 20 "$log"; }
    done
    exit 1
}

for tool in openssl stunnel tinyproxy sha256sum; do
    command -v "$tool" >/dev/null || fail "$tool is not installed"
done

# is_listening PORT: something accepts TCP connections on 127.0.0.1:PORT.
is_listening() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_listening PID PORT: wait until PID listens on PORT; 1 if PID died.
wait_listening() {
    local i
    for i in $(seq 1 100); do
        kill -0 "$1" 2>/dev/null || return 1
        if is_listening "$2"; then
            kill -0 "$1" 2>/dev/null && return 0
            return 1
        fi
        sleep 0.1
    done
    return 1
}

# start_on_free_port NAME CMD...: runs CMD with @PORT@ replaced by a free
# port, retrying on another port if it cannot listen; sets $port.
start_on_free_port() {
    local name=$1 try pid
    shift
    for try in 1 2 3 4 5 6 7 8 9 10; do
        port=$((20000 + RANDOM % 40000))
        is_listening "$port" && continue
        "$@" "$port" >"$dir/$name.log" 2>&1 </dev/null &
        pid=$!
        pids="$pids $pid"
        if wait_listening "$pid" "$port"; then
            echo "started $name (pid $pid) on 127.0.0.1:$port"
            return 0
        fi
        kill "$pid" 2>/dev/null
    done
    fail "could not start $name"
}

cd "$dir" || exit 1

# Certificates: one CA; the proxy and the origin are both "localhost".
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ca.key -out ca.pem -days 2 -subj "/CN=Example proxy test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign" 2>ca.log || fail "CA"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout other-ca.key -out other-ca.pem -days 2 -subj "/CN=Other CA" \
    2>>ca.log || fail "other CA"
printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >ext.cnf
for name in proxy origin; do
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$name.key" -out "$name.csr" -subj "/CN=localhost" \
        2>>ca.log || fail "$name key"
    openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key \
        -CAcreateserial -days 2 -extfile ext.cnf -out "$name.pem" \
        2>>ca.log || fail "$name certificate"
done

# The origin serves the files in www/ over TLS (port 0: the kernel picks).
mkdir www
head -c 1048576 /dev/urandom >www/page.bin
(cd www && exec openssl s_server -accept 127.0.0.1:0 -cert ../origin.pem \
    -key ../origin.key -WWW) >origin.log 2>&1 </dev/null &
pids="$pids $!"
for i in $(seq 1 100); do
    origin_port=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\)$/\1/p' origin.log)
    [ -n "$origin_port" ] && break
    sleep 0.1
done
[ -n "$origin_port" ] || fail "openssl s_server did not start"
echo "started openssl s_server -WWW on 127.0.0.1:$origin_port"

# The proxy: tinyproxy in plain HTTP, stunnel in front of it for TLS.
tinyproxy_run() {
    cat >tinyproxy.conf <<CONF
Port $1
Listen 127.0.0.1
Timeout 60
MaxClients 20
Allow 127.0.0.1
LogLevel Info
CONF
    exec tinyproxy -d -c tinyproxy.conf
}
start_on_free_port tinyproxy tinyproxy_run
proxy_http_port=$port

stunnel_run() {
    cat >stunnel.conf <<CONF
foreground = yes
pid =
[https-proxy]
accept = 127.0.0.1:$1
connect = 127.0.0.1:$proxy_http_port
cert = $dir/proxy.pem
key = $dir/proxy.key
CONF
    exec stunnel stunnel.conf
}
start_on_free_port stunnel stunnel_run
proxy_port=$port

# 1. The fetch: the SHA-256 must match.
"$client" "localhost:$proxy_port" "localhost:$origin_port" /page.bin \
    ca.pem >got.bin 2>client.log || fail "https_proxy_client failed"
want=$(sha256sum <www/page.bin | cut -d' ' -f1)
got=$(sha256sum <got.bin | cut -d' ' -f1)
[ "$want" = "$got" ] || fail "SHA-256 mismatch: served $want, got $got"
echo "ok: fetched 1 MiB through the proxy, SHA-256 $got"

# 2. A client that trusts another CA must fail at layer 0 (the proxy).
if "$client" "localhost:$proxy_port" "localhost:$origin_port" /page.bin \
    other-ca.pem >/dev/null 2>bad-ca.log; then
    fail "a client trusting another CA succeeded"
fi
grep -q "TLS to localhost:$proxy_port failed (layer 0)" bad-ca.log ||
    fail "wrong CA: no message naming layer 0: $(cat bad-ca.log)"
grep -q "certificate verify failed" bad-ca.log ||
    fail "wrong CA: no verification error: $(cat bad-ca.log)"
echo "ok: another CA is refused at layer 0"

# 3. A tunnel to a closed port: the proxy's refusal is reported.
closed=$((origin_port == 65535 ? 65534 : origin_port + 1))
while is_listening "$closed"; do closed=$((closed - 1)); done
if "$client" "localhost:$proxy_port" "localhost:$closed" /page.bin \
    ca.pem >/dev/null 2>refused.log; then
    fail "a CONNECT to a closed port succeeded"
fi
grep -q '^proxy refused CONNECT: "HTTP/1\.[01] [45][0-9][0-9]' refused.log ||
    fail "closed port: no refusal message: $(cat refused.log)"
echo "ok: $(head -n 1 refused.log)"
echo "PASS: https_proxy_client"
