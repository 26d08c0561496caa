#!/bin/sh
# Installs a build tree into a temporary prefix, then builds a C and a C++
# program against the installed package, through find_package and through
# pkg-config, linked statically and dynamically, and runs all eight.  An
# installed build that carries the kqueue emulation runs each one again on
# XPOLL_BACKEND=kqueue: outside programs can select the emulated backend.
#
# With `windows` (a build cross-compiled with cmake/mingw-w64-x86_64.cmake),
# the programs are built with mingw-w64 the same eight ways and run under
# $XPOLL_WINE64 (scripts/wine-env.sh): the DLL-linked ones find xpoll.dll in
# the prefix's bin/ through WINEPATH, and pkg-config's static flags carry
# -DXPOLL_STATIC (xpoll.pc's Cflags.private).
# usage: check_consumer.sh BUILD_DIR SOURCE_DIR [emulation|windows]
set -eu
build=$1
source=$2
mode=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" > "$tmp/install.log"
pc=$(find "$prefix" -name xpoll.pc)
libdir=$(dirname "$(dirname "$pc")")
test -f "$libdir/libxpoll.a"
if [ "$mode" = windows ]; then
    test -f "$libdir/libxpoll.dll.a"
    test -f "$prefix/bin/xpoll.dll"
    cc=x86_64-w64-mingw32-gcc cxx=x86_64-w64-mingw32-g++ exe=.exe
    cmake_args="-DCMAKE_TOOLCHAIN_FILE=$source/cmake/mingw-w64-x86_64.cmake -DXPOLL_MINGW_DEPS=$prefix"
    # Programs load xpoll.dll from the installed bin/ (WINEPATH: Wine's
    # extra DLL search path; drive Z: is the Unix root), never from beside
    # them; the C++ ones also the compiler's libstdc++-6.dll and
    # libgcc_s_seh-1.dll.
    runtime=$(dirname "$($cxx -print-file-name=libstdc++-6.dll)")
    WINEPATH=$(printf 'Z:%s;Z:%s' "$prefix/bin" "$runtime" | tr / '\\')
    export WINEPATH
    run() { "$XPOLL_WINE64" "$@"; }
    links_shared() { x86_64-w64-mingw32-objdump -p "$1" | grep -q 'DLL Name: xpoll.dll'; }
    dynamic_libs=$(PKG_CONFIG_LIBDIR="$libdir/pkgconfig" pkg-config --libs xpoll)
else
    test -f "$libdir/libxpoll.so.0"
    cc=cc cxx=c++ exe=
    cmake_args="-DCMAKE_PREFIX_PATH=$prefix -DCMAKE_BUILD_RPATH=$libdir"
    run() { "$@"; }
    links_shared() { ldd "$1" | grep -q "libxpoll.so.0 => $libdir/"; }
    dynamic_libs="$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --libs xpoll) -Wl,-rpath,$libdir"
fi

# Built with shared: the library from the prefix; static: no xpoll library
# loaded at all.
check_linkage() {
    prog=$1$exe kind=$2
    if [ "$kind" = shared ]; then
        links_shared "$prog" || { echo "$prog does not load the installed shared library"; exit 1; }
    elif links_shared "$prog"; then
        echo "$prog should be linked statically"; exit 1
    fi
    run "$prog"
    if [ "$mode" = emulation ]; then
        out=$(XPOLL_BACKEND=kqueue "$prog" 2>&1) || true
        echo "$out"
        case $out in
        "ok: "*" on kqueue"*) ;;
        *) echo "$prog did not run on XPOLL_BACKEND=kqueue"; exit 1 ;;
        esac
    fi
}

echo "== find_package(xpoll CONFIG)"
# shellcheck disable=SC2086 # cmake_args: several arguments
cmake -S "$source/tests/consumer" -B "$tmp/cmake" $cmake_args > "$tmp/configure.log" ||
    { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/cmake" > "$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
for lang in c cxx; do
    check_linkage "$tmp/cmake/cmake_${lang}_shared" shared
    check_linkage "$tmp/cmake/cmake_${lang}_static" static
done

echo "== pkg-config xpoll"
export PKG_CONFIG_LIBDIR="$libdir/pkgconfig"
unset PKG_CONFIG_PATH
cflags=$(pkg-config --cflags xpoll)
static_cflags=$(pkg-config --static --cflags xpoll)
# libxpoll.a by name, then what it needs (Libs.private: -pthread, or
# -lws2_32 on Windows) as the system has it.
static_libs="$(pkg-config --static --libs-only-L xpoll) -Wl,-Bstatic -lxpoll -Wl,-Bdynamic $(pkg-config --static --libs-only-other xpoll) $(pkg-config --static --libs-only-l xpoll | sed 's/-lxpoll//')"
warn="-Wall -Wextra -Wpedantic -Werror"
# shellcheck disable=SC2086 # flags: several arguments each
{
    $cc -std=c11 $warn $cflags "$source/tests/consumer/consumer.c" -o "$tmp/pc_c_shared$exe" $dynamic_libs
    $cc -std=c11 $warn $static_cflags "$source/tests/consumer/consumer.c" -o "$tmp/pc_c_static$exe" $static_libs
    $cxx -std=c++11 $warn $cflags "$source/tests/consumer/consumer.cpp" -o "$tmp/pc_cxx_shared$exe" $dynamic_libs
    $cxx -std=c++11 $warn $static_cflags "$source/tests/consumer/consumer.cpp" -o "$tmp/pc_cxx_static$exe" $static_libs
}
for lang in c cxx; do
    check_linkage "$tmp/pc_${lang}_shared" shared
    check_linkage "$tmp/pc_${lang}_static" static
done
if [ "$mode" = windows ]; then
    echo "== <windows.h> (WIN32_LEAN_AND_MEAN) before <xpoll.h>"
    # shellcheck disable=SC2086 # flags: several arguments each
    $cc -std=c11 $warn $cflags "$source/tests/consumer/windows_first.c" -o "$tmp/windows_first.exe" $dynamic_libs
    run "$tmp/windows_first.exe"
fi
# The manual, read from the installed prefix as a user reads it: man(1)
# (man-db) renders a page, a .so link (xpoll_reregister(3) shows
# xpoll_register's page) and xpoll(7), and formats every installed page
# and link without a warning.
if [ "$mode" != windows ]; then
    echo "== man -M $prefix/share/man"
    if ! command -v man > /dev/null 2>&1; then
        echo "man(1) is missing (Debian: apt-get install man-db): the installed manual cannot be read"
        exit 1
    fi
    mandir=$prefix/share/man
    read_page() { # SECTION NAME TITLE TEXT: the page shows TITLE and TEXT
        LC_ALL=C MANPAGER=cat MANWIDTH=80 man -M "$mandir" -P cat "$1" "$2" \
            > "$tmp/page.txt" 2> "$tmp/page.err" ||
            { echo "man -M $mandir $1 $2 failed:"; cat "$tmp/page.err"; exit 1; }
        if ! grep -qF "$3" "$tmp/page.txt" || ! grep -qF "$4" "$tmp/page.txt"; then
            echo "man -M $mandir $1 $2 does not show $3 and \"$4\":"
            head -20 "$tmp/page.txt"
            exit 1
        fi
    }
    read_page 3 xpoll_wait "XPOLL_WAIT(3)" "wait for readiness events"
    read_page 3 xpoll_reregister "XPOLL_REGISTER(3)" "xpoll_reregister"
    read_page 7 xpoll "XPOLL(7)" "edge-triggered event reactor"
    pages=0
    for page in "$mandir"/man3/*.3 "$mandir"/man7/*.7; do
        rel=${page#"$mandir"/}
        if ! (cd "$mandir" && LC_ALL=C man -l -P cat "$rel" > /dev/null) 2> "$tmp/page.err" ||
            [ -s "$tmp/page.err" ]; then
            echo "man -l $rel failed or warned:"
            cat "$tmp/page.err"
            exit 1
        fi
        pages=$((pages + 1))
    done
    [ "$pages" -gt 1 ] || { echo "no manual installed under $mandir"; exit 1; }
    echo "$pages pages and links render from $mandir"
fi
echo "consumer check passed: programs built against $prefix"
