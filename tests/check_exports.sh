#!/bin/sh
# The shared library exports exactly the public API: every function the
# headers declare with XPOLL_API or XPOLL_INLINE (inline in the header,
# exported out of line too), and nothing else.  A build carrying the
# test-only kqueue emulation also exports the emulator's entry points and
# interposers, on purpose.  LIBRARY is an ELF shared object (read with
# nm -D) or a Windows DLL (xpoll.dll: its export table, read with the
# mingw-w64 objdump -p).
# usage: check_exports.sh LIBRARY INCLUDE_DIR [emulation]
set -eu
lib=$1
include=$2
extra='^$'
if [ "${3:-}" = emulation ]; then
    extra='^(kqemu_.*|kqueue|kevent|close|dup2|dup3|shutdown|getsockopt)$'
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

grep -rhE '^XPOLL_(API|INLINE) ' "$include" | grep -o 'xpoll_[a-z0-9_]*(' | tr -d '(' \
    | sort -u > "$tmp/declared"
case $lib in
*.dll)
    x86_64-w64-mingw32-objdump -p "$lib" \
        | sed -n '/^\[Ordinal\/Name Pointer\] Table/,/^$/s/^[[:space:]]*\[ *[0-9]*\] //p' \
        | sort -u > "$tmp/exported"
    ;;
*)
    nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | sort -u \
        | grep -Ev "$extra" > "$tmp/exported" || true
    ;;
esac

if ! cmp -s "$tmp/declared" "$tmp/exported"; then
    echo "exports of $lib differ from the headers' XPOLL_API functions:"
    diff "$tmp/declared" "$tmp/exported" | sed -n 's/^</  declared, not exported:/p; s/^>/  exported, not declared:/p'
    exit 1
fi
echo "$lib: exports exactly the $(wc -l < "$tmp/declared") XPOLL_API functions"
