# Shared helpers of the integration tests: sourced, not run.
#
# Each test starts real, independent peers (openssl s_server/s_client,
# socat, stunnel, tinyproxy, onion-server, onion-client) on loopback ports
# chosen free at run time, and kills every process it started on exit.

set -eEuo pipefail

TEST_NAME=$(basename "$0" .sh)
: "${top_builddir:=$PWD}"
ONION_CLIENT=$top_builddir/apps/onion-client
ONION_SERVER=$top_builddir/apps/onion-server

T=$(mktemp -d "${TMPDIR:-/tmp}/onion-$TEST_NAME.XXXXXX")
PKI=$T/pki
PIDS=()
USED_PORTS=" "
# The standard input of started peers.  openssl s_server ends a connection
# when its stdin ends: hold_stdin gives it one that never does.
START_STDIN=/dev/null

log() {
    echo "# $TEST_NAME: $*"
}

# show_logs prints the end of every log the test wrote.
show_logs() {
    local f
    for f in "$T"/*.log; do
        [ -e "$f" ] || continue
        echo "--- last lines of $(basename "$f"):"
        tail -n 15 "$f" | sed 's/^/    /'
    done
}

fail() {
    echo "FAIL: $TEST_NAME: $*"
    show_logs
    exit 1
}

pass() {
    echo "ok: $TEST_NAME: $*"
}

cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in "${PIDS[@]}"; do
        # Each peer runs in its own process group (setsid): forks included.
        kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        local i
        for i in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [ -n "${ONION_TEST_KEEP:-}" ]; then
        echo "# $TEST_NAME: kept $T"
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap cleanup EXIT
# set -e ends the test at a failing command: say which.
trap 'echo "FAIL: $TEST_NAME: line $LINENO: $BASH_COMMAND (status $?)"; show_logs' ERR
trap 'exit 130' INT TERM

# need TOOL PACKAGE: a missing tool is a failure, never a skip.
need() {
    command -v "$1" >/dev/null 2>&1 ||
        fail "required tool '$1' is missing (Debian package $2)"
}

need openssl openssl
need setsid util-linux
need sha256sum coreutils
need awk mawk
[ -x "$ONION_CLIENT" ] || fail "$ONION_CLIENT not built"
[ -x "$ONION_SERVER" ] || fail "$ONION_SERVER not built"

# port_state PORT STATE: true if a TCP socket on local port PORT is in
# STATE (0A: listening, any: any state), read from /proc/net/tcp{,6}.
port_state() {
    local hex
    hex=$(printf ':%04X' "$1")
    awk -v h="$hex" -v st="$2" '
        FNR > 1 && substr($2, length($2) - 4) == h && (st == "any" || $4 == st) { f = 1 }
        END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# free_port VAR: sets VAR to a loopback port nothing uses, below the
# ephemeral range so that outgoing connections do not take it meanwhile.
free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
        case "$USED_PORTS" in *" $p "*) continue ;; esac
        if ! port_state "$p" any; then
            USED_PORTS="$USED_PORTS$p "
            printf -v "$1" '%s' "$p"
            return 0
        fi
    done
    fail "no free port found"
}

# start NAME CMD...: runs CMD in the background in its own process group,
# output in $T/NAME.log.  The pid is in $LAST_PID.
start() {
    local name=$1
    shift
    setsid "$@" >"$T/$name.log" 2>&1 0<>"$START_STDIN" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    log "started $name (pid $LAST_PID): $*"
}

# hold_stdin: peers started from now on read a FIFO that never ends.
hold_stdin() {
    mkfifo "$T/hold.fifo"
    START_STDIN=$T/hold.fifo
}

# start_in DIR NAME CMD...: start, with DIR as the working directory.
start_in() {
    local dir=$1 name=$2
    shift 2
    (cd "$dir" && exec setsid "$@" >"$T/$name.log" 2>&1 0<>"$START_STDIN") &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    log "started $name in $dir (pid $LAST_PID): $*"
}

# wait_port PORT PID NAME: waits until PORT listens; fails if PID dies.
wait_port() {
    local i
    for i in $(seq 1 400); do
        port_state "$1" 0A && return 0
        kill -0 "$2" 2>/dev/null || fail "$3 exited before listening on $1"
        sleep 0.025
    done
    fail "$3 does not listen on port $1 after 10 s"
}

# wait_exit PID SECONDS: waits for PID to exit; its status in $EXIT_STATUS.
wait_exit() {
    local i n=$(($2 * 20))
    for i in $(seq 1 "$n"); do
        if ! kill -0 "$1" 2>/dev/null; then
            EXIT_STATUS=0
            wait "$1" || EXIT_STATUS=$?
            return 0
        fi
        sleep 0.05
    done
    fail "pid $1 still running after $2 s"
}

# start_onion_server NAME ARGS...: starts onion-server on a port it picks
# (-accept 127.0.0.1:0) and sets $SERVER_PORT from its first line.
start_onion_server() {
    local name=$1 i
    shift
    start "$name" "$ONION_SERVER" -accept 127.0.0.1:0 "$@"
    SERVER_PID=$LAST_PID
    for i in $(seq 1 400); do
        # The log may not exist yet: the shell that opens it runs apart.
        SERVER_PORT=$(sed -n 's/.*accepting on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
            "$T/$name.log" 2>/dev/null | head -n 1 || true)
        [ -n "$SERVER_PORT" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || fail "$name exited at start"
        sleep 0.025
    done
    fail "$name did not say which port it accepts on"
}

sha() {
    sha256sum "$1" | cut -d' ' -f1
}

# same_sha WHAT EXPECTED-FILE GOT-FILE
same_sha() {
    local a b
    a=$(sha "$2")
    b=$(sha "$3")
    [ "$a" = "$b" ] ||
        fail "$1: SHA-256 differs: sent $a ($(stat -c %s "$2") bytes), got $b ($(stat -c %s "$3") bytes)"
    log "$1: SHA-256 $a matches ($(stat -c %s "$3") bytes)"
}

# payload FILE BYTES: random bytes.
payload() {
    head -c "$2" /dev/urandom >"$1"
}

# gen_pki: a test CA, an unrelated CA, and leaf certificates (EC P-256)
# for every name the tests use, each with its name as DNS SAN.
gen_pki() {
    local n
    mkdir -p "$PKI"
    gen_ca ca "bio_onion Test CA"
    gen_ca other "Unrelated CA"
    for n in layer0.test layer1.test layer2.test layer3.test proxy.test \
        origin.test client.test; do
        gen_leaf ca "$n"
    done
    gen_leaf other rogue.test
    log "test PKI in $PKI"
}

gen_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -keyout "$PKI/$1.key" -out "$PKI/$1.pem" -subj "/CN=$2" \
        -days 2 -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        >"$T/pki.log" 2>&1 || fail "openssl req (CA $2) failed"
}

gen_leaf() {
    printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n' \
        "$2" >"$PKI/$2.ext"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -keyout "$PKI/$2.key" -out "$PKI/$2.csr" -subj "/CN=$2" \
        >>"$T/pki.log" 2>&1 || fail "openssl req ($2) failed"
    openssl x509 -req -in "$PKI/$2.csr" -CA "$PKI/$1.pem" \
        -CAkey "$PKI/$1.key" -CAcreateserial -days 2 \
        -extfile "$PKI/$2.ext" -out "$PKI/$2.pem" \
        >>"$T/pki.log" 2>&1 || fail "openssl x509 ($2) failed"
}

# Server-side -layer SPEC for NAME, client-side SPEC verifying NAME.
srv_spec() {
    echo "cert=$PKI/$1.pem,key=$PKI/$1.key${2:+,$2}"
}
cli_spec() {
    echo "servername=$1,CAfile=$PKI/ca.pem${2:+,$2}"
}

# socat_tls_server NAME PORT CERTNAME TO-PORT: terminates one TLS layer.
socat_tls_server() {
    need socat socat
    start "$1" socat -d -d \
        "OPENSSL-LISTEN:$2,bind=127.0.0.1,reuseaddr,fork,cert=$PKI/$3.pem,key=$PKI/$3.key,verify=0" \
        "TCP:127.0.0.1:$4"
    wait_port "$2" "$LAST_PID" "$1"
}

# socat_tls_client NAME PORT SERVERNAME TO-PORT: plain in, one TLS layer out.
socat_tls_client() {
    need socat socat
    start "$1" socat -d -d \
        "TCP-LISTEN:$2,bind=127.0.0.1,reuseaddr,fork" \
        "OPENSSL:127.0.0.1:$4,cafile=$PKI/ca.pem,commonname=$3,snihost=$3,verify=1"
    wait_port "$2" "$LAST_PID" "$1"
}

# stunnel_run NAME PORT TO-PORT CLIENT(yes|no) CERT-OR-SERVERNAME
stunnel_run() {
    need stunnel stunnel4
    local conf=$T/$1.conf
    {
        echo "foreground = yes"
        echo "pid ="
        echo "debug = 5"
        echo "syslog = no"
        echo "[$1]"
        echo "accept = 127.0.0.1:$2"
        echo "connect = 127.0.0.1:$3"
        if [ "$4" = yes ]; then
            echo "client = yes"
            echo "CAfile = $PKI/ca.pem"
            echo "verifyChain = yes"
            echo "checkHost = $5"
            echo "sni = $5"
        else
            echo "cert = $PKI/$5.pem"
            echo "key = $PKI/$5.key"
        fi
    } >"$conf"
    start "$1" stunnel "$conf"
    wait_port "$2" "$LAST_PID" "$1"
}

# wait_log FILE PATTERN SECONDS: waits until FILE has a line matching
# PATTERN (grep -E).
wait_log() {
    local i n=$(($3 * 20))
    for i in $(seq 1 "$n"); do
        grep -Eq "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "no line matching '$2' in $(basename "$1") after $3 s"
}

# www_fetch NAME PORT FILE CLIENT-ARGS...: onion-client sends
# "GET /FILE HTTP/1.0" (to openssl s_server -WWW serving $T/www) and the
# body it gets back must have the SHA-256 of $T/www/FILE.
www_fetch() {
    local name=$1 port=$2 file=$3 hlen
    shift 3
    printf 'GET /%s HTTP/1.0\r\n\r\n' "$file" |
        "$ONION_CLIENT" -connect "127.0.0.1:$port" "$@" -ign_eof \
            >"$T/$name.out" 2>"$T/$name.log" ||
        fail "$name: onion-client exited with status $?"
    head -c 64 "$T/$name.out" | grep -aq '^HTTP/1.0 200 ok' ||
        fail "$name: no 200 reply from s_server -WWW"
    # s_server -WWW puts a short head in front of the file.
    hlen=$(awk 'BEGIN { RS = "\r\n\r\n" } NR == 1 { print length($0) + 4; exit }' \
        "$T/$name.out")
    tail -c +$((hlen + 1)) "$T/$name.out" >"$T/$name.body"
    same_sha "$name" "$T/www/$file" "$T/$name.body"
}
