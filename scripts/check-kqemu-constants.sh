#!/usr/bin/env bash
# Cross-check the kqueue emulator's <sys/event.h> (tests/kqemu/include)
# against the Rust libc crate sources that Debian ships in
# librust-libc-dev: every EVFILT_*, EV_* and NOTE_* constant the header
# defines, per personality, and the layout of struct kevent.  Debian ships
# no FreeBSD kernel headers and no macOS SDK, so the crate is the only
# Debian source for FreeBSD and macOS values (docs/kqueue.md, section 7).
#
# Usage: scripts/check-kqemu-constants.sh     (CC defaults to cc)
# Exit status: 0 all match, 1 a mismatch or a missing constant, 2 the
# crate or the compiler is not available.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
include_dir="$repo/tests/kqemu/include"
cc=${CC:-cc}

crate=$(ls -d /usr/share/cargo/registry/libc-* 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -z "$crate" ]]; then
  echo "check-kqemu-constants: the Rust libc crate sources are missing;" >&2
  echo "install the Debian package librust-libc-dev (apt-get install librust-libc-dev)" >&2
  exit 2
fi
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "check-kqemu-constants: C compiler '$cc' not found" >&2
  exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Where the crate keeps each personality's values (libc 0.2.139 layout).
fb_consts=("$crate/src/unix/bsd/freebsdlike/freebsd/mod.rs" "$crate/src/unix/bsd/freebsdlike/mod.rs")
fb_struct="$crate/src/unix/bsd/freebsdlike/freebsd/freebsd12/mod.rs"
mac_consts=("$crate/src/unix/bsd/apple/mod.rs")
mac_struct="$crate/src/unix/bsd/apple/mod.rs"

# Constants the header must carry although the crate does not; the value
# comes from the real system header named here (Apple's as bundled with
# zig 0.11, lib/libc/include/any-macos.*-any/sys/event.h).  Anything else
# missing from the crate is an error.
declare -A header_only=(
  [freebsd:EV_FORCEONESHOT]="FreeBSD sys/sys/event.h"
  [freebsd:EV_KEEPUDATA]="FreeBSD 13+ sys/sys/event.h"
  [darwin:EV_UDATA_SPECIFIC]="Apple sys/event.h"
  [darwin:EV_VANISHED]="Apple sys/event.h"
  [darwin:EVFILT_EXCEPT]="Apple sys/event.h"
)

fail=0

# NAME VALUE lines for the kevent constants in the crate files given.
crate_constants() {
  sed -nE 's/^pub const ((EVFILT|EV)_[A-Z0-9_]+|NOTE_(TRIGGER|FF[A-Z]+|LOWAT)): [a-z0-9:_]+ = (-?(0x)?[0-9a-fA-F]+);.*/\1 \4/p' "$@" |
    while read -r name value; do echo "$name $((value))"; done | sort -u
}

# NAME VALUE lines for the constants the header defines.
header_constants() {
  local pers=$1
  local names
  names=$(echo '#include <sys/event.h>' |
    "$cc" -E -dM -I"$include_dir" -DKQEMU_PERSONALITY="$pers" -x c - |
    sed -nE 's/^#define ((EVFILT|EV|NOTE)_[A-Z0-9_]+) .*/\1/p' | sort -u)
  {
    echo '#include <stdio.h>'
    echo '#include <sys/event.h>'
    echo 'int main(void) {'
    for n in $names; do
      echo "  printf(\"%s %lld\\n\", \"$n\", (long long)($n));"
    done
    echo '  return 0;'
    echo '}'
  } >"$tmp/consts.c"
  "$cc" -std=c11 -I"$include_dir" -DKQEMU_PERSONALITY="$pers" "$tmp/consts.c" -o "$tmp/consts"
  "$tmp/consts"
}

# "size align field:offset ..." of struct kevent as the header lays it out.
header_layout() {
  local pers=$1 fields=$2
  {
    echo '#include <stdio.h>'
    echo '#include <stddef.h>'
    echo '#include <sys/event.h>'
    echo 'int main(void) {'
    echo '  printf("%zu %zu", sizeof(struct kevent), _Alignof(struct kevent));'
    for f in $fields; do
      echo "  printf(\" $f:%zu\", offsetof(struct kevent, $f));"
    done
    echo '  printf("\n");'
    echo '  return 0;'
    echo '}'
  } >"$tmp/layout.c"
  "$cc" -std=c11 -I"$include_dir" -DKQEMU_PERSONALITY="$pers" "$tmp/layout.c" -o "$tmp/layout"
  "$tmp/layout"
}

# The same from the crate's `pub struct kevent`, computed for LP64 with
# C layout rules (and repr(packed(N)) when the crate says so).
crate_layout() {
  awk '
    function sz(t) {
      if (t ~ /^\[u64; *[0-9]+\]$/) { n = t; gsub(/[^0-9;]/, "", n); split(n, parts, ";"); return 8 * parts[2] }
      if (t ~ /(uintptr_t|intptr_t|i64|u64|\*mut|\*const|c_long|c_ulong)/) return 8
      if (t ~ /(c_uint|u32|i32|c_int)/) return 4
      if (t ~ /(c_short|c_ushort|i16|u16)/) return 2
      return -1
    }
    function al(t) { return (t ~ /^\[u64/) ? 8 : sz(t) }
    /repr\(packed\([0-9]+\)\)/ { p = $0; gsub(/.*packed\(|\).*/, "", p); pack = p + 0; next }
    /pub struct kevent \{/ { inside = 1; off = 0; maxal = 1; out = ""; next }
    inside && /^[[:space:]]*\}/ {
      size = int((off + maxal - 1) / maxal) * maxal
      print size, maxal out; exit
    }
    inside && /pub [a-z_]+:/ {
      name = $2; sub(/:$/, "", name)
      t = $0; gsub(/::/, "", t); sub(/^[^:]*: */, "", t); sub(/, *$/, "", t)
      s = sz(t); a = al(t)
      if (s < 0) { print "unknown-type " t; exit 1 }
      if (pack && a > pack) a = pack
      if (a > maxal) maxal = a
      off = int((off + a - 1) / a) * a
      out = out " " name ":" off
      off += s
      next
    }
    !inside && !/^[[:space:]]*#/ { pack = 0 }
  ' "$1"
}

check_personality() {
  local label=$1 pers=$2 struct_file=$3
  shift 3
  local -A hv=() cv=()
  local name value
  while read -r name value; do hv[$name]=$value; done < <(header_constants "$pers")
  while read -r name value; do cv[$name]=$value; done < <(crate_constants "$@")

  printf '\n== %s (%s) against %s ==\n' "$label" "$pers" "${crate#/usr/share/cargo/registry/}"
  printf '%-20s %12s %12s  %s\n' NAME HEADER CRATE STATUS
  local all
  all=$(printf '%s\n' "${!hv[@]}" "${!cv[@]}" | sort -u)
  for name in $all; do
    local h=${hv[$name]-} c=${cv[$name]-} status
    if [[ -n "$h" && -n "$c" ]]; then
      if [[ "$h" == "$c" ]]; then status=ok; else status=MISMATCH; fail=1; fi
    elif [[ -n "$h" ]]; then
      if [[ -n "${header_only[$label:$name]-}" ]]; then
        status="header only: ${header_only[$label:$name]}"
      else
        status="MISSING IN CRATE"; fail=1
      fi
    else
      status="MISSING IN HEADER"; fail=1
    fi
    printf '%-20s %12s %12s  %s\n' "$name" "${h:--}" "${c:--}" "$status"
  done

  local crate_l fields header_l
  crate_l=$(crate_layout "$struct_file")
  fields=$(echo "$crate_l" | tr ' ' '\n' | sed -n 's/:.*//p' | tr '\n' ' ')
  header_l=$(header_layout "$pers" "$fields")
  if [[ "$crate_l" == "$header_l" ]]; then status=ok; else status=MISMATCH; fail=1; fi
  printf 'struct kevent (size align field:offset)\n  header: %s\n  crate:  %s\n  %s\n' \
    "$header_l" "$crate_l" "$status"
}

check_personality freebsd KQEMU_FREEBSD "$fb_struct" "${fb_consts[@]}"
check_personality darwin KQEMU_DARWIN "$mac_struct" "${mac_consts[@]}"

if [[ $fail -ne 0 ]]; then
  echo
  echo "check-kqemu-constants: FAILED (see MISMATCH/MISSING rows above)"
  exit 1
fi
echo
echo "check-kqemu-constants: all constants and layouts match"
