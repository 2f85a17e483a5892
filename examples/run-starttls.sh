#!/bin/sh
# Runs examples/starttls (both sides in one process over a socketpair) and
# checks that it succeeded and that both STARTTLS rounds really handed
# handshake bytes read along with the line to the new layer.
set -u
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
trap 'exit 1' INT TERM

./examples/starttls 2>"$out"
status=$?
cat "$out"
if [ "$status" -ne 0 ]; then
    echo "FAIL: examples/starttls exited with status $status"
    exit 1
fi
rounds=$(grep -c '^client: round [0-9]*: [0-9]* bytes, SHA-256 [0-9a-f]* matches$' "$out")
if [ "$rounds" -ne 2 ]; then
    echo "FAIL: expected 2 TLS rounds with matching SHA-256, saw $rounds"
    exit 1
fi
leftover=$(sed -n 's/^server: STARTTLS with \([0-9]*\) handshake bytes.*/\1/p' "$out")
n=0
for bytes in $leftover; do
    n=$((n + 1))
    if [ "$bytes" -eq 0 ]; then
        echo "FAIL: a STARTTLS round carried no handshake bytes with the line"
        exit 1
    fi
done
if [ "$n" -ne 2 ]; then
    echo "FAIL: expected 2 STARTTLS rounds on the server, saw $n"
    exit 1
fi
grep -q '^starttls: OK$' "$out" || { echo "FAIL: no OK line"; exit 1; }
echo "PASS: starttls: 2 rounds, leftover bytes $(echo $leftover), SHA-256 matched"
