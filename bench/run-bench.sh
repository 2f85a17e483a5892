#!/bin/sh
# Runs onion-bench and draws its plots with gnuplot.
#   run-bench.sh PROGRAM OUTDIR [onion-bench options...]
# Writes OUTDIR/results.md (also printed) and OUTDIR/*.png.  The gnuplot
# data and script stay in data/ next to PROGRAM (in the build tree), so
# that the plots can be redrawn: gnuplot -e "outdir='OUTDIR'" data/plots.gp
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 PROGRAM OUTDIR [options]" >&2
    exit 2
fi
prog=$1
out=$2
shift 2

if ! command -v gnuplot >/dev/null 2>&1; then
    echo "$0: gnuplot not found (Debian: apt-get install gnuplot-nox)" >&2
    exit 1
fi
if ! command -v timeout >/dev/null 2>&1; then
    echo "$0: timeout not found (Debian: coreutils)" >&2
    exit 1
fi

mkdir -p "$out"
data=$(dirname "$prog")/data
rm -f "$data"/*.dat "$data"/plots.gp
mkdir -p "$data"
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$(date +%s)
status=0
# A hung benchmark is a failure, not a wait: 15 minutes at most.
timeout 900 "$prog" --out "$out" --data "$data" \
    --command "${BENCH_COMMAND:-run-bench.sh}" "$@" &
pid=$!
wait "$pid" || status=$?
pid=
if [ "$status" -eq 124 ]; then
    echo "$0: onion-bench did not finish within 900 s" >&2
fi

if [ -f "$data/plots.gp" ]; then
    if ! gnuplot -e "outdir='$out'" "$data/plots.gp"; then
        echo "$0: gnuplot failed" >&2
        [ "$status" -ne 0 ] || status=1
    fi
    for f in "$out"/*.png; do
        [ -f "$f" ] && echo "wrote $f"
    done
fi
[ -f "$out/results.md" ] && echo "wrote $out/results.md"
echo "run-bench.sh: $(($(date +%s) - start)) s, exit status $status"
exit "$status"
