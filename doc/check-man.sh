#!/bin/sh
# Checks the manual pages:
#  1. every POD source passes podchecker without errors or warnings;
#  2. every built page renders with groff -man -ww and with man -l
#     --warnings without a single warning, and no rendered line is wider
#     than the 80 columns asked for;
#  3. BIO_f_onion(3) names every public name of include/bio_onion.h in its
#     SYNOPSIS and explains each one again after it, and every function it
#     lists in NAME is installed as a page of its own (a .so link);
#  4. onion-client(1) and onion-server(1) document every option and every
#     -layer key that the tools' -help prints.
# Run from the top of the build tree; $srcdir is the top of the sources.
set -u
srcdir=${srcdir:-.}
failures=0
checks=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

pass() {
    checks=$((checks + 1))
}

for tool in podchecker groff man perl; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed"; exit 1; }
done

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

pods="doc/man1/onion-client.pod doc/man1/onion-server.pod doc/man3/BIO_f_onion.pod"
pages="doc/man1/onion-client.1 doc/man1/onion-server.1 doc/man3/BIO_f_onion.3"

# 1. POD syntax.
for pod in $pods; do
    if podchecker -warnings -warnings "$srcdir/$pod" >"$tmp/pc" 2>&1 &&
        ! grep -q 'WARNING' "$tmp/pc"; then
        pass
    else
        fail "podchecker $pod:"
        cat "$tmp/pc"
    fi
done

# 2. Rendering.
for page in $pages; do
    if [ ! -s "$page" ]; then
        fail "$page was not built"
        continue
    fi
    groff -man -ww -z -Tutf8 "$page" >"$tmp/groff" 2>&1
    if [ -s "$tmp/groff" ]; then
        fail "groff -man -ww $page:"
        cat "$tmp/groff"
    else
        pass
    fi
    MANWIDTH=80 man --warnings -l "$page" >"$tmp/out" 2>"$tmp/err"
    status=$?
    if [ "$status" -ne 0 ] || [ -s "$tmp/err" ] || [ ! -s "$tmp/out" ]; then
        fail "man -l $page (status $status):"
        cat "$tmp/err"
    else
        pass
    fi
    wide=$(awk 'length > 80' "$tmp/out" | head -n 3)
    if [ -n "$wide" ]; then
        fail "$page has lines wider than 80 columns:"
        echo "$wide"
    else
        pass
    fi
done

# 3. The header against BIO_f_onion(3).
pod="$srcdir/doc/man3/BIO_f_onion.pod"
# Public names: the header without its comments, minus the include guard.
perl -0777 -ne 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g;
    my %seen; $seen{$1}++ while
        /\b((?:BIO_C_ONION|BIO_ONION|BIO_onion|BIO_f_onion|BIO_new_onion|bio_onion)\w*)/g;
    print "$_\n" for sort grep { $_ ne "BIO_ONION_H" } keys %seen;' \
    "$srcdir/include/bio_onion.h" >"$tmp/names"
perl -ne 'print if /^=head1 SYNOPSIS/ .. /^=head1 DESCRIPTION/' "$pod" \
    >"$tmp/synopsis"
perl -ne 'print if /^=head1 DESCRIPTION/ .. eof' "$pod" >"$tmp/body"
n=0
while read -r name; do
    n=$((n + 1))
    grep -qw -- "$name" "$tmp/synopsis" ||
        fail "BIO_f_onion.pod: $name is not in the SYNOPSIS"
    # A struct tag is documented by its typedef in the SYNOPSIS.
    case $name in
    bio_onion_*_st) continue ;;
    esac
    grep -qw -- "$name" "$tmp/body" ||
        fail "BIO_f_onion.pod: $name is not explained after the SYNOPSIS"
done <"$tmp/names"
if [ "$n" -lt 40 ]; then
    fail "only $n public names found in include/bio_onion.h"
else
    pass
fi
# Every function and macro named in NAME has a link page.
perl -ne 'print if /^=head1 NAME/ .. /^=head1 SYNOPSIS/' "$pod" |
    grep -o 'BIO_[A-Za-z_]*' | sort -u >"$tmp/name-list"
grep -qx BIO_f_onion "$tmp/name-list" || fail "NAME does not list BIO_f_onion"
while read -r fn; do
    case $fn in
    BIO_f_onion | BIO_onion_callback_fn | BIO_ONION_PUSH | BIO_ONION_CALLBACK)
        continue ;;
    esac
    if [ -f "doc/man3/$fn.3" ] &&
        grep -qx '.so man3/BIO_f_onion.3' "doc/man3/$fn.3"; then
        pass
    else
        fail "no link page doc/man3/$fn.3 for $fn (DOC_MAN3_LINKS)"
    fi
    # Functions and function-like macros of the header are all in NAME.
done <"$tmp/name-list"
for fn in $(grep -E '^BIO_(f_onion|new_onion|onion_[a-z_]+)$' "$tmp/names"); do
    grep -qx "$fn" "$tmp/name-list" || fail "NAME does not list $fn"
done

# 4. The tools' -help against their pages.
for tool in onion-client onion-server; do
    pod="$srcdir/doc/man1/$tool.pod"
    if [ ! -x "apps/$tool" ]; then
        fail "apps/$tool is not built"
        continue
    fi
    if ! "apps/$tool" -help >"$tmp/help" 2>&1; then
        fail "$tool -help failed"
        continue
    fi
    opts=$( (sed -n 's/^usage: [a-z-]* //p' "$tmp/help" |
        grep -oE '(^| )-[a-z_-]+'
        grep -oE '^ +-[a-z_-]+' "$tmp/help") | tr -d ' ' | sort -u)
    keys=$(sed -n '/^ *-layer SPEC/,/^ *-[a-z]/p' "$tmp/help" |
        grep -oE '(^|[ ;])[a-zA-Z_]+=' | tr -d ' ;=' | sort -u)
    [ -n "$opts" ] || fail "$tool -help lists no option"
    [ -n "$keys" ] || fail "$tool -help lists no -layer key"
    for opt in $opts; do
        if grep -q "B<$opt>" "$pod"; then pass; else
            fail "$tool.pod does not document $opt"; fi
    done
    for key in $keys; do
        if grep -q "B<$key=" "$pod"; then pass; else
            fail "$tool.pod does not document the -layer key $key="; fi
    done
    # And the other way: no documented option that the tool does not know.
    for opt in $(grep -oE '^=item B<-[a-z_-]+>' "$pod" | sed 's/^=item B<//; s/>$//'); do
        echo "$opts" | grep -qx -- "$opt" ||
            fail "$tool.pod documents $opt, which $tool -help does not list"
    done
done

echo "man pages: $checks checks passed, $failures failed"
[ "$failures" -eq 0 ]
