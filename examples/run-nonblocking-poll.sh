#!/bin/sh
# Runs examples/nonblocking_poll: both ends of a 127.0.0.1 TCP connection
# in one poll() loop, three TLS layers each, 1 MiB each way.  Checks that
# it succeeded, that every layer came up with the expected peer, and that
# the SHA-256 of the data matched.
set -u
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
trap 'exit 1' INT TERM

./examples/nonblocking_poll 2>"$out"
status=$?
cat "$out"
if [ "$status" -ne 0 ]; then
    echo "FAIL: examples/nonblocking_poll exited with status $status"
    exit 1
fi
for want in 'client: layer 0: TLSv1.3 .* peer /CN=outer.example' \
            'client: layer 1: TLSv1.2 .* peer /CN=middle.example' \
            'client: layer 2: TLSv1.3 .* peer /CN=inner.example' \
            'nonblocking_poll: 3 layers, 1048576 bytes each way, SHA-256 matches, all layers popped' \
            'nonblocking_poll: OK'; do
    if ! grep -q "^$want\$" "$out"; then
        echo "FAIL: no line matching: $want"
        exit 1
    fi
done
echo "PASS: nonblocking_poll: depth 3, 1 MiB each way, SHA-256 matched"
