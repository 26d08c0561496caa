#!/bin/sh
# Installs a build tree into a temporary prefix, then builds a C and a C++
# program against the installed package, through find_package and through
# pkg-config, linked statically and dynamically, and runs all eight.  An
# installed build that carries the kqueue emulation runs each one again on
# XPOLL_BACKEND=kqueue: outside programs can select the emulated backend.
# usage: check_consumer.sh BUILD_DIR SOURCE_DIR [emulation]
set -eu
build=$1
source=$2
emulation=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" > "$tmp/install.log"
pc=$(find "$prefix" -name xpoll.pc)
libdir=$(dirname "$(dirname "$pc")")
test -f "$libdir/libxpoll.a"
test -f "$libdir/libxpoll.so.0"

# Built with shared: libxpoll.so.0 from the prefix; static: no libxpoll.
check_linkage() {
    exe=$1 kind=$2
    if [ "$kind" = shared ]; then
        ldd "$exe" | grep -q "libxpoll.so.0 => $libdir/" \
            || { echo "$exe does not load $libdir/libxpoll.so.0"; ldd "$exe"; exit 1; }
    elif ldd "$exe" | grep -q libxpoll; then
        echo "$exe should be linked statically"; ldd "$exe"; exit 1
    fi
    "$exe"
    if [ "$emulation" = emulation ]; then
        out=$(XPOLL_BACKEND=kqueue "$exe" 2>&1) || true
        echo "$out"
        case $out in
        "ok: "*" on kqueue"*) ;;
        *) echo "$exe did not run on XPOLL_BACKEND=kqueue"; exit 1 ;;
        esac
    fi
}

echo "== find_package(xpoll CONFIG)"
cmake -S "$source/tests/consumer" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_RPATH="$libdir" > "$tmp/configure.log"
cmake --build "$tmp/cmake" > "$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
for lang in c cxx; do
    check_linkage "$tmp/cmake/cmake_${lang}_shared" shared
    check_linkage "$tmp/cmake/cmake_${lang}_static" static
done

echo "== pkg-config xpoll"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cflags=$(pkg-config --cflags xpoll)
libs=$(pkg-config --libs xpoll)
static_libs="$(pkg-config --static --libs-only-L xpoll) -Wl,-Bstatic -lxpoll -Wl,-Bdynamic $(pkg-config --static --libs-only-other xpoll)"
warn="-Wall -Wextra -Wpedantic -Werror"
cc -std=c11 $warn $cflags "$source/tests/consumer/consumer.c" -o "$tmp/pc_c_shared" $libs -Wl,-rpath,"$libdir"
cc -std=c11 $warn $cflags "$source/tests/consumer/consumer.c" -o "$tmp/pc_c_static" $static_libs
c++ -std=c++11 $warn $cflags "$source/tests/consumer/consumer.cpp" -o "$tmp/pc_cxx_shared" $libs -Wl,-rpath,"$libdir"
c++ -std=c++11 $warn $cflags "$source/tests/consumer/consumer.cpp" -o "$tmp/pc_cxx_static" $static_libs
for lang in c cxx; do
    check_linkage "$tmp/pc_${lang}_shared" shared
    check_linkage "$tmp/pc_${lang}_static" static
done
echo "consumer check passed: 8 programs built against $prefix"
