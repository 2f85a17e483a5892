#!/bin/sh
# Runs examples/chain_with_buffer: BIO_f_buffer on top of an onion, two
# layers pushed and popped through the buffer BIO, 2000 lines read with
# BIO_gets and compared by SHA-256.
set -u
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
trap 'exit 1' INT TERM

./examples/chain_with_buffer 2>"$out"
status=$?
cat "$out"
if [ "$status" -ne 0 ]; then
    echo "FAIL: examples/chain_with_buffer exited with status $status"
    exit 1
fi
for want in 'client: layer 0: TLSv1.3 .* peer /CN=localhost' \
            'client: layer 1: TLSv1.3 .* peer /CN=localhost' \
            'chain_with_buffer: 2000 lines through BIO_gets at depth 2, SHA-256 matches' \
            'chain_with_buffer: OK'; do
    if ! grep -q "^$want\$" "$out"; then
        echo "FAIL: no line matching: $want"
        exit 1
    fi
done
echo "PASS: chain_with_buffer: 2000 lines at depth 2 through BIO_f_buffer"
