#!/bin/sh
# Copyright 2026 The bio_onion Authors. All Rights Reserved.
#
# Licensed under the Apache License 2.0 (the "License").  You may not use
# this file except in compliance with the License.  You can obtain a copy
# in the file COPYING in the source distribution.
#
# check-exports: the shared library must export exactly the functions that
# include/bio_onion.h declares, nothing more and nothing less.  Macros in
# the header are not symbols and are ignored.
#
# Run by `make check` from the top build directory.  The source tree is
# found through $top_srcdir, else $srcdir (which the automake test harness
# exports; the Makefile is non-recursive, so both are the top), else the
# directory above this script; the build tree through $top_builddir, else
# the current directory.

set -u

script_dir=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-${srcdir:-$script_dir/..}}
top_builddir=${top_builddir:-.}
header=$top_srcdir/include/bio_onion.h
lib=$top_builddir/.libs/libbio_onion.so

fail() {
    echo "check-exports: FAIL: $*" >&2
    exit 1
}

for tool in nm perl; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (install binutils / perl)"
done
[ -r "$header" ] || fail "header $header not found"
[ -r "$lib" ] || fail "shared library $lib not found (configure with --enable-shared and build first)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-exports.XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# Function declarations of the header: drop comments, preprocessor lines
# (with their continuations), the extern "C" braces and struct bodies, then
# take the name before the first '(' of every declaration that is not a
# typedef.
perl -0777 -ne '
    s{/\*.*?\*/}{ }gs;
    s{//[^\n]*}{}g;
    s{^[ \t]*#(?:[^\n]*\\\n)*[^\n]*}{}gm;
    s{extern\s+"C"\s*\{}{}g;
    1 while s{\{[^{}]*\}}{ }g;
    s{\}}{}g;
    for my $decl (split /;/) {
        next if $decl =~ /^\s*$/ || $decl =~ /\btypedef\b/;
        print "$1\n" if $decl =~ /\b([A-Za-z_]\w*)\s*\(/;
    }
' "$header" | LC_ALL=C sort -u >"$tmp/declared" || fail "cannot parse $header"

[ -s "$tmp/declared" ] || fail "no function declarations found in $header"

# Every defined dynamic symbol, whatever its type: data or a version node
# would be just as wrong as an extra function.
nm -D --defined-only "$lib" >"$tmp/nm" || fail "nm -D $lib failed"
awk 'NF >= 2 { print $NF }' "$tmp/nm" | sed 's/@.*//' | LC_ALL=C sort -u \
    >"$tmp/exported"
# Exported objects that are not functions (T text, W/i weak or indirect).
awk 'NF >= 3 && $2 !~ /^[TWi]$/ { print $3 " (type " $2 ")" }' "$tmp/nm" \
    >"$tmp/not-functions"

status=0
missing=$(LC_ALL=C comm -23 "$tmp/declared" "$tmp/exported")
extra=$(LC_ALL=C comm -13 "$tmp/declared" "$tmp/exported")
if [ -n "$missing" ]; then
    echo "check-exports: declared in $header but not exported by $lib:" >&2
    echo "$missing" | sed 's/^/  /' >&2
    status=1
fi
if [ -n "$extra" ]; then
    echo "check-exports: exported by $lib but not declared in $header:" >&2
    echo "$extra" | sed 's/^/  /' >&2
    status=1
fi
if [ -s "$tmp/not-functions" ]; then
    echo "check-exports: exported symbols that are not functions:" >&2
    sed 's/^/  /' "$tmp/not-functions" >&2
    status=1
fi
[ "$status" -eq 0 ] || fail "exports differ from the header"

echo "check-exports: PASS: $(wc -l <"$tmp/declared") functions, exported exactly:"
sed 's/^/  /' "$tmp/declared"
exit 0
