#!/usr/bin/env bash
# Installs what the Windows build needs on Debian 12, as root, and builds
# cmocka for x86_64-w64-mingw32 from Debian's own source package:
#
#   - packages: wine and wine64 (Wine 8.0, whose 64-bit loader is
#     /usr/lib/wine/wine64), gcc-mingw-w64-x86-64 and its C++ compiler
#     (the consumer check builds a C++ program), cmake, make, pkg-config,
#     dpkg-dev (dpkg-source unpacks the source package);
#   - cmocka: "apt-get source cmocka" through a private apt configuration (a
#     deb-src line in a sources.list of its own, its own lists and cache, in
#     the work directory; /etc/apt is not touched), unpacked with Debian's
#     patches applied, cross-compiled with cmake/mingw-w64-x86_64.cmake and
#     installed into PREFIX as a static library: include/cmocka.h,
#     lib/libcmocka.a, lib/pkgconfig/cmocka.pc (pkg-config, as the tests'
#     CMakeLists.txt uses it) and lib/cmake/cmocka (find_package).
#
# No third-party source is kept in the repository.  Running it again is
# cheap: installed packages are not reinstalled, and a PREFIX holding a
# cmocka built by this script from the same source version is kept
# (XPOLL_MINGW_REBUILD=1 builds it again).  The last line printed is PREFIX.
#
# usage: scripts/windows-deps.sh [PREFIX]
# env:   XPOLL_MINGW_DEPS      PREFIX when no argument is given
#                              (default build/windows/deps)
#        XPOLL_MINGW_WORK      scratch directory (default PREFIX/../deps-work)
#        XPOLL_DEBIAN_MIRROR   the deb-src URI (default http://deb.debian.org/debian)
#        XPOLL_DEBIAN_SUITE    the deb-src suite (default: this system's codename)
#        XPOLL_MINGW_REBUILD=1 fetch and build cmocka even if PREFIX has it
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:-${XPOLL_MINGW_DEPS:-$here/build/windows/deps}}
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
work=${XPOLL_MINGW_WORK:-$(dirname "$prefix")/deps-work}
mkdir -p "$work"
work=$(cd "$work" && pwd)
toolchain=$here/cmake/mingw-w64-x86_64.cmake

export DEBIAN_FRONTEND=noninteractive
log() { printf '[windows-deps] %s\n' "$*"; }
elapsed() { # seconds since $1 (a date +%s.%N value), one decimal
    awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

# ---- packages -------------------------------------------------------------
# --no-install-recommends: Wine's recommends (fonts, GStreamer, 32-bit
# support, ...) are for desktop programs; console .exe files run without.
packages=(wine wine64 gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64-win32 cmake make pkg-config dpkg-dev
    xz-utils debian-archive-keyring)
missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$p")
done
t=$(date +%s.%N)
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "run as root to install: ${missing[*]}" >&2; exit 1; }
    log "installing ${missing[*]}"
    # Another apt (a parallel CI stage) may hold the lock: wait for it.
    apt-get -o DPkg::Lock::Timeout=600 update -q
    apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends \
        "${missing[@]}"
    log "packages installed in $(elapsed "$t") s"
else
    log "packages already installed"
fi
wine64=/usr/lib/wine/wine64
[ -x "$wine64" ] || { echo "$wine64 is missing after installing wine64" >&2; exit 1; }
log "$("$wine64" --version 2>/dev/null || true), $(x86_64-w64-mingw32-gcc --version | head -n1)"

# ---- cmocka from Debian's source package ----------------------------------
stamp=$prefix/.xpoll-cmocka-source
if [ "${XPOLL_MINGW_REBUILD:-0}" != 1 ] && [ -f "$stamp" ] &&
    [ -f "$prefix/lib/libcmocka.a" ] && [ -f "$prefix/include/cmocka.h" ] &&
    [ -f "$prefix/lib/pkgconfig/cmocka.pc" ]; then
    log "cmocka already in $prefix ($(cat "$stamp")); XPOLL_MINGW_REBUILD=1 rebuilds it"
    echo "$prefix"
    exit 0
fi

t=$(date +%s.%N)
mirror=${XPOLL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${XPOLL_DEBIAN_SUITE:-$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release)}
suite=${suite:-bookworm}
apt_dir=$work/apt
rm -rf "$apt_dir" "$work/src"
mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" \
    "$apt_dir/cache/archives/partial" "$work/src"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" \
    > "$apt_dir/sources.list"
# apt downloads as the unprivileged user _apt where it exists: let it write
# where it downloads, as apt's own directories do.
if id _apt > /dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    chown _apt "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$work/src"
fi
apt_private=(
    -o "Dir::Etc::SourceList=$apt_dir/sources.list"
    -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache"
    -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
)
log "apt-get source cmocka from $mirror $suite (private apt configuration in $apt_dir)"
apt-get "${apt_private[@]}" update -q
(cd "$work/src" && apt-get "${apt_private[@]}" source -q cmocka)
src=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'cmocka-*' | head -n1)
dsc=$(find "$work/src" -mindepth 1 -maxdepth 1 -name 'cmocka_*.dsc' | head -n1)
if [ -z "$src" ] || [ ! -f "$src/CMakeLists.txt" ] || [ -z "$dsc" ]; then
    echo "apt-get source cmocka left no source tree in $work/src" >&2
    exit 1
fi
version=$(sed -n 's/^Version: //p' "$dsc")
log "cmocka $version fetched and unpacked in $(elapsed "$t") s: $src"

# Debian's debian/rules configures with -DWITH_CMOCKERY_SUPPORT=ON
# -DUNIT_TESTING=ON (cmocka's own tests, which also build the static
# library).  Here: WITH_STATIC_LIB=ON to install the static library, no
# examples (WITH_EXAMPLES defaults to ON), no tests, no cmockery header.
# The Windows programs link cmocka in and need no DLL beside them.
t=$(date +%s.%N)
build=$work/build
rm -rf "$build"
# What an earlier build installed (the prefix may be shared: remove no more).
rm -rf "$stamp" "$prefix"/include/cmocka*.h "$prefix"/lib/libcmocka* \
    "$prefix/lib/pkgconfig/cmocka.pc" "$prefix/lib/cmake/cmocka"
cmake -S "$src" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF \
    -DUNIT_TESTING=OFF -DPICKY_DEVELOPER=OFF > "$work/cmocka-configure.log" 2>&1 ||
    { cat "$work/cmocka-configure.log"; exit 1; }
cmake --build "$build" -j"${XPOLL_MINGW_JOBS:-1}" > "$work/cmocka-build.log" 2>&1 ||
    { cat "$work/cmocka-build.log"; exit 1; }
cmake --install "$build" > "$work/cmocka-install.log" 2>&1 ||
    { cat "$work/cmocka-install.log"; exit 1; }
# cmocka 1.1.x always builds the DLL and installs the static library as
# libcmocka-static.a, while its cmocka.pc says -lcmocka (which the mingw-w64
# linker resolves to the import library libcmocka.dll.a first) and its
# cmocka-config.cmake names lib/cmocka.dll.a, a file it never installs.
# Keep the static library alone, as libcmocka.a, so -lcmocka,
# find_library(cmocka) and CMOCKA_LIBRARY all mean it.  cmocka.h declares
# no dllimport, so nothing else changes for a static link.
mv "$prefix/lib/libcmocka-static.a" "$prefix/lib/libcmocka.a"
rm -f "$prefix/lib/libcmocka.dll.a" "$prefix/bin/cmocka.dll"
rmdir "$prefix/bin" 2> /dev/null || true
sed -i 's|/lib/cmocka\.dll\.a)|/lib/libcmocka.a)|' "$prefix/lib/cmake/cmocka/cmocka-config.cmake"
grep -q '/lib/libcmocka.a)' "$prefix/lib/cmake/cmocka/cmocka-config.cmake" || {
    echo "cmocka-config.cmake does not name lib/libcmocka.a" >&2
    exit 1
}
echo "cmocka $version (Debian source package, $suite)" > "$stamp"
log "cmocka built and installed in $(elapsed "$t") s"
echo "$prefix"
