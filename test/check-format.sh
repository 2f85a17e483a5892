#!/bin/sh
# Copyright 2026 The bio_onion Authors. All Rights Reserved.
#
# Licensed under the Apache License 2.0 (the "License").  You may not use
# this file except in compliance with the License.  You can obtain a copy
# in the file COPYING in the source distribution.
#
# check-format: every C source and header of the tree (bio_onion/, include/,
# test/, apps/, bench/, examples/, fuzz/) must be formatted as the committed
# .clang-format says.  Fix a failure with `clang-format -i FILE`.
#
# In a git checkout the files are those git knows (tracked, plus new files
# not ignored); in a tarball, every .c and .h under those folders.  The
# source tree is $top_srcdir, else $srcdir (exported by the automake test
# harness; the Makefile is non-recursive, so both are the top), else the
# directory above this script.  A missing clang-format is a failure.

set -u

script_dir=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-${srcdir:-$script_dir/..}}
top_srcdir=$(cd "$top_srcdir" && pwd) || exit 1
clang_format=${CLANG_FORMAT:-clang-format}
style=$top_srcdir/.clang-format
dirs="bio_onion include test apps bench examples fuzz"

fail() {
    echo "check-format: FAIL: $*" >&2
    exit 1
}

command -v "$clang_format" >/dev/null 2>&1 \
    || fail "$clang_format not found (Debian: apt-get install clang-format)"
[ -r "$style" ] || fail "$style not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-format.XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

cd "$top_srcdir" || fail "cannot cd to $top_srcdir"
if git rev-parse --show-toplevel >/dev/null 2>&1 \
    && [ "$(git rev-parse --show-toplevel)" = "$(pwd -P)" ]; then
    # shellcheck disable=SC2086 # $dirs is a list of folder names
    git ls-files --cached --others --exclude-standard -- $dirs \
        | grep -E '\.[ch]$' >"$tmp/files"
else
    # shellcheck disable=SC2086
    find $dirs -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null \
        >"$tmp/files"
fi
LC_ALL=C sort -u -o "$tmp/files" "$tmp/files"

# git ls-files also lists files deleted from the working tree.
: >"$tmp/present"
while IFS= read -r f; do
    [ -f "$f" ] && printf '%s\n' "$f" >>"$tmp/present"
done <"$tmp/files"
[ -s "$tmp/present" ] || fail "no C files found under $top_srcdir"

: >"$tmp/bad"
while IFS= read -r f; do
    if ! "$clang_format" --style="file:$style" --dry-run -Werror "$f" \
        >/dev/null 2>"$tmp/out"; then
        printf '%s\n' "$f" >>"$tmp/bad"
        head -n 20 "$tmp/out" >&2
    fi
done <"$tmp/present"

count=$(wc -l <"$tmp/present")
if [ -s "$tmp/bad" ]; then
    echo "check-format: these files differ from $style:" >&2
    sed 's/^/  /' "$tmp/bad" >&2
    fail "$(wc -l <"$tmp/bad") of $count files need clang-format -i"
fi
echo "check-format: PASS: $count files formatted as $style"
exit 0
