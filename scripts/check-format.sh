#!/usr/bin/env bash
# Fails when a tracked C file is not formatted by .clang-format.
# Pinned to clang-format 14 (Debian 12's `clang-format`): other major
# versions break some lines differently.
#
# usage: scripts/check-format.sh          check; print the diff of each file
#        scripts/check-format.sh --fix    reformat the files in place
set -euo pipefail
cd "$(dirname "$0")/.."

tool=${CLANG_FORMAT:-$(command -v clang-format-14 || command -v clang-format || true)}
[ -n "$tool" ] || { echo "clang-format 14 not found (apt-get install clang-format)" >&2; exit 2; }
"$tool" --version | grep -q 'version 14\.' ||
    { echo "$tool is not clang-format 14: $("$tool" --version)" >&2; exit 2; }

mapfile -t files < <(git ls-files '*.c' '*.h')
if [ "${1:-}" = --fix ]; then
    "$tool" -i "${files[@]}"
    exit 0
fi

bad=0
for f in "${files[@]}"; do
    if ! "$tool" "$f" | diff -u --label "$f" --label "$f (formatted)" "$f" -; then
        bad=$((bad + 1))
    fi
done
if [ "$bad" -gt 0 ]; then
    echo "$bad file(s) not formatted; run scripts/check-format.sh --fix" >&2
    exit 1
fi
echo "${#files[@]} files formatted"
