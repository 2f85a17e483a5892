#!/bin/sh
# Installs the build into a temporary DESTDIR, then, against that installed
# copy only:
#  - compiles test/install/hello_onion.c with exactly the flags of
#    "pkg-config --cflags --libs bio_onion" and runs it (two nested TLS
#    layers, SHA-256 of the message, pops, the error library);
#  - links it again with the static library and "pkg-config --static";
#  - checks that the installed onion-client reports the version that
#    pkg-config reports, and that "man BIO_onion_pop" and the tools' pages
#    are found in the installed manual;
# then uninstalls and checks that nothing is left behind.
# PKG_CONFIG_SYSROOT_DIR maps the .pc file's paths into DESTDIR, as for any
# staged install.  Run from the top of the build tree.
set -u
srcdir=${srcdir:-.}
top=$(pwd)

fail() {
    echo "FAIL: $*"
    [ -f "$tmp/log" ] && tail -n 30 "$tmp/log"
    exit 1
}

for tool in make pkg-config cc man; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed"; exit 1; }
done

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
dest="$tmp/dest"

# A make of its own: not the jobserver nor the variables of the make that
# runs this test.
submake() {
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
        make -C "$top" "$@" >>"$tmp/log" 2>&1
}

submake install DESTDIR="$dest" || fail "make install DESTDIR=$dest"
echo "installed into $dest"

pcs=$(find "$dest" -name bio_onion.pc)
[ "$(echo "$pcs" | wc -l)" -eq 1 ] && [ -n "$pcs" ] ||
    fail "expected one installed bio_onion.pc, found: $pcs"
pcdir=$(dirname "$pcs")
libdir=$(dirname "$pcdir")
PKG_CONFIG_PATH=$pcdir
PKG_CONFIG_SYSROOT_DIR=$dest
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR

for f in "$libdir/libbio_onion.so" "$libdir/libbio_onion.a"; do
    [ -e "$f" ] || fail "not installed: $f"
done
header=$(find "$dest" -name bio_onion.h)
[ -n "$header" ] || fail "bio_onion.h is not installed"
# Only the public header is installed.
[ -z "$(find "$dest" -name 'onion_local.h')" ] || fail "private header installed"

# A library built with --enable-sanitizers needs programs built the same way.
san=""
if ldd "$libdir/libbio_onion.so" | grep -qE 'lib(asan|ubsan)'; then
    san="-fsanitize=address,undefined"
    echo "the installed library is a sanitizer build: cc $san"
fi

cflags=$(pkg-config --cflags bio_onion) || fail "pkg-config --cflags bio_onion"
libs=$(pkg-config --libs bio_onion) || fail "pkg-config --libs bio_onion"
echo "pkg-config --cflags --libs bio_onion: $cflags $libs"
case "$cflags" in
*"$dest"*) ;;
*) fail "pkg-config --cflags does not point into $dest: $cflags" ;;
esac

# 1. Shared: the flags of pkg-config, and nothing from the source or build
# tree (the program includes <bio_onion.h>, found through $cflags only).
# shellcheck disable=SC2086
cc $san -o "$tmp/hello_onion" "$srcdir/test/install/hello_onion.c" \
    $cflags $libs >>"$tmp/log" 2>&1 ||
    fail "cc hello_onion.c \$(pkg-config --cflags --libs bio_onion)"
loaded=$(LD_LIBRARY_PATH="$libdir" ldd "$tmp/hello_onion" |
    sed -n 's/^[[:space:]]*libbio_onion[^ ]* => \([^ ]*\).*/\1/p')
case "$loaded" in
"$libdir"/*) ;;
*) fail "hello_onion would load libbio_onion from '$loaded', not $libdir" ;;
esac
LD_LIBRARY_PATH="$libdir" "$tmp/hello_onion" || fail "hello_onion (shared)"

# 2. Static: libbio_onion.a and the libraries of "pkg-config --static".
slibs=$(pkg-config --static --libs bio_onion | sed 's/-lbio_onion\b/-l:libbio_onion.a/')
# shellcheck disable=SC2086
cc $san -o "$tmp/hello_onion_static" "$srcdir/test/install/hello_onion.c" \
    $cflags $slibs >>"$tmp/log" 2>&1 ||
    fail "cc hello_onion.c with the static library: $slibs"
if ldd "$tmp/hello_onion_static" | grep -q libbio_onion; then
    fail "hello_onion_static is linked to the shared library"
fi
"$tmp/hello_onion_static" || fail "hello_onion (static)"

# 3. The tools and the version in one place.
version=$(pkg-config --modversion bio_onion)
tool=$(find "$dest" -path '*/bin/onion-client' -type f)
[ -n "$tool" ] || fail "onion-client is not installed"
[ -n "$(find "$dest" -path '*/bin/onion-server' -type f)" ] ||
    fail "onion-server is not installed"
said=$(LD_LIBRARY_PATH="$libdir" "$tool" -version) || fail "onion-client -version"
[ "$said" = "onion-client (bio_onion) $version" ] ||
    fail "onion-client -version says '$said', pkg-config says $version"
echo "ok: $said"

# 4. The manual.
mandir=$(find "$dest" -type d -name man -path '*/share/man' | head -n 1)
[ -n "$mandir" ] || fail "no manual installed"
for page in BIO_f_onion BIO_onion_pop BIO_onion_push_ssl_with_data \
    onion-client onion-server; do
    MANWIDTH=80 man -M "$mandir" "$page" >"$tmp/page" 2>>"$tmp/log" ||
        fail "man -M $mandir $page"
    case $page in
    onion-*) want="$page - nested TLS" ;;
    *) want="BIO_onion_push_ssl_with_data" ;;
    esac
    grep -q -- "$want" "$tmp/page" || fail "man $page does not show '$want'"
done
echo "ok: man BIO_f_onion, BIO_onion_pop, onion-client, onion-server"

# 5. Uninstall leaves nothing behind.
submake uninstall DESTDIR="$dest" || fail "make uninstall DESTDIR=$dest"
left=$(find "$dest" -type f | head -n 5)
[ -z "$left" ] || fail "left after make uninstall: $left"
echo "PASS: install, pkg-config (shared and static), tools, manual, uninstall"
