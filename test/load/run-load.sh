#!/bin/sh
# Load test: onion-server -echo -inband, three TLS layers, on a free
# loopback port; load-client with many concurrent clients (see
# load-client.c).  Run by `make check-load` from the build directory.
# Everything it starts is killed on exit.
set -u

ONION_SERVER=${ONION_SERVER:-apps/onion-server}
LOAD_CLIENT=${LOAD_CLIENT:-test/load/load-client}
CLIENTS=${LOAD_CLIENTS:-1000}
ROUNDS=${LOAD_ROUNDS:-2}
HOSTILE=${LOAD_HOSTILE:-10}
SEED=${LOAD_SEED:-1}
HOLD=${LOAD_HOLD:-20}

for tool in openssl "$ONION_SERVER" "$LOAD_CLIENT"; do
    if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "$tool" ]; then
        echo "run-load: $tool not found" >&2
        exit 1
    fi
done

# Each client needs a descriptor in the client and one in the server.
want=$((CLIENTS + 256))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
    if ! ulimit -n "$want" 2>/dev/null; then
        echo "run-load: cannot raise the descriptor limit to $want" \
             "(hard limit $(ulimit -Hn))" >&2
        exit 1
    fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/onion-load.XXXXXX") || exit 1
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# A test CA and a server certificate for load.test (EC P-256).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$work/ca.key" -out "$work/ca.pem" -days 2 \
    -subj "/CN=bio_onion load test CA" >/dev/null 2>&1 &&
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$work/server.key" -out "$work/server.csr" \
    -subj "/CN=load.test" >/dev/null 2>&1 &&
printf 'subjectAltName=DNS:load.test\n' > "$work/ext.cnf" &&
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" \
    -CAkey "$work/ca.key" -CAcreateserial -days 2 \
    -extfile "$work/ext.cnf" -out "$work/server.pem" >/dev/null 2>&1 || {
    echo "run-load: cannot make the certificates" >&2
    exit 1
}

spec="cert=$work/server.pem,key=$work/server.key"
"$ONION_SERVER" -accept 127.0.0.1:0 -layer "$spec" -layer "$spec" \
    -layer "$spec" -echo -inband -quiet -timeout $((HOLD + 25)) \
    2>"$work/server.log" &
server_pid=$!

port=
i=0
while [ $i -lt 100 ]; do
    port=$(sed -n 's/.*accepting on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
           "$work/server.log" | head -1)
    [ -n "$port" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "run-load: onion-server exited:" >&2
        cat "$work/server.log" >&2
        exit 1
    fi
    sleep 0.1
    i=$((i + 1))
done
if [ -z "$port" ]; then
    echo "run-load: onion-server did not report its port" >&2
    cat "$work/server.log" >&2
    exit 1
fi
echo "run-load: onion-server pid $server_pid on 127.0.0.1:$port," \
     "$CLIENTS clients x $ROUNDS rounds, $HOSTILE% hostile, seed $SEED"

"$LOAD_CLIENT" -connect "127.0.0.1:$port" -CAfile "$work/ca.pem" \
    -servername load.test -server-pid "$server_pid" -clients "$CLIENTS" \
    -rounds "$ROUNDS" -hostile "$HOSTILE" -seed "$SEED" -hold "$HOLD" \
    -depth 3
status=$?

if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run-load: FAIL: onion-server died during the load:" >&2
    tail -20 "$work/server.log" >&2
    status=1
else
    # A clean stop frees everything: built with --enable-sanitizers,
    # LeakSanitizer reports here whatever the load left allocated.
    kill -TERM "$server_pid"
    wait "$server_pid"
    server_status=$?
    server_pid=
    echo "run-load: onion-server stopped with status $server_status"
    if [ "$server_status" -ne 0 ] ||
       grep -q -E 'LeakSanitizer|AddressSanitizer|runtime error' \
           "$work/server.log"; then
        echo "run-load: FAIL: onion-server did not stop cleanly:" >&2
        grep -E -A20 'LeakSanitizer|AddressSanitizer|runtime error' \
            "$work/server.log" | head -40 >&2
        status=1
    fi
fi
lines=$(wc -l < "$work/server.log")
echo "run-load: onion-server logged $lines lines (one per failed" \
     "connection); the first ones:"
grep -v 'accepting on' "$work/server.log" | head -5
exit $status
