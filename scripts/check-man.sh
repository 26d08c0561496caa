#!/bin/sh
# Checks the manual in docs/man against the library and its headers:
#
#  1. every xpoll_* symbol the shared library exports (nm -D) has a page,
#     and every name a page documents (its NAME section, each with a
#     file: the page or a `.so man3/PAGE.3` link) is exported;
#  2. every function (.Fn, .Fo) and page (.Xr) any page names exists, and
#     a page's SYNOPSIS declares exactly the functions its NAME lists;
#  3. the errors a page lists are the ones the header comment lists, per
#     function (below);
#  4. every man3 page has NAME, LIBRARY, SYNOPSIS (with .In), DESCRIPTION,
#     RETURN VALUES and SEE ALSO naming xpoll(7), and xpoll(7)'s SEE ALSO
#     names every man3 page;
#  5. `mandoc -Tlint -W warning` is clean on every page and link: warnings,
#     errors and unsupported requests fail.  Style messages (mandoc's
#     lowest level) are not checked: the one the pages cannot avoid is
#     "referenced manual not found" for every .Xr to another xpoll page,
#     which depends on what the machine running the check has installed.
#
# Errors.  A header's side, per function: the -EXXX names in the comment
# right before its declaration (only blank lines between); a declaration
# that directly follows another one, with no comment between, shares that
# one's comment (xpoll_peer_addr after xpoll_local_addr, the I/O helpers
# after the block comment above xpoll_read).  A sentence of the comment
# that says "Errors ... as xpoll_foo()" adds xpoll_foo()'s names.  A
# page's side: each `.It ... Er EXXX` item of its RETURN VALUES and ERRORS
# sections; the item applies to every function in NAME unless the first
# line of its body starts with .Fn and ends with ":" - then to the
# functions that line names (".Fn xpoll_register , Fn xpoll_reregister :").
# Consecutive .It lines share the next body.  A bare .Er in RETURN VALUES
# must name an errno some item lists.  The two sets must be equal.
#
# usage: check-man.sh LIBRARY [SOURCE_DIR]
#   LIBRARY     the built shared library (libxpoll.so)
#   SOURCE_DIR  the source tree (default: this script's ..)
# Needs mandoc (Debian package mandoc), nm (binutils), awk.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 LIBRARY [SOURCE_DIR]" >&2
    exit 2
fi
lib=$1
src=${2:-$(cd "$(dirname "$0")/.." && pwd)}
man=$src/docs/man
include=$src/include

if ! command -v mandoc > /dev/null 2>&1; then
    echo "check-man: mandoc is not installed; the pages cannot be linted" >&2
    echo "check-man: install it (Debian: apt-get install mandoc) and run again" >&2
    exit 1
fi
command -v nm > /dev/null 2>&1 || { echo "check-man: nm (binutils) is missing" >&2; exit 1; }
[ -f "$lib" ] || { echo "check-man: no such library: $lib" >&2; exit 1; }
if [ ! -d "$man/man3" ] || [ ! -f "$man/man7/xpoll.7" ]; then
    echo "check-man: no manual under $man" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() {
    echo "check-man: $*" >&2
    failed=1
}

# ---- what the library exports -------------------------------------------
nm -D --defined-only "$lib" | awk '{ sub(/@.*/, "", $3) } $3 ~ /^xpoll_/ { print $3 }' |
    sort -u > "$tmp/exported"
[ -s "$tmp/exported" ] || fail "$lib exports no xpoll_* symbol"

# ---- pages and links ------------------------------------------------------
: > "$tmp/documented"   # name page
: > "$tmp/pages"        # page files (not links)
for f in "$man"/man3/*.3; do
    base=$(basename "$f" .3)
    if grep -q '^\.so ' "$f"; then
        target=$(sed -n 's/^\.so //p' "$f")
        lines=$(grep -cv '^\.\\"' "$f" || true)
        case $target in
        man3/*.3) ;;
        *) fail "$f: a link must read .so man3/PAGE.3, not .so $target"; continue ;;
        esac
        [ "$lines" -eq 1 ] || fail "$f: a link holds its .so line and nothing else"
        if [ ! -f "$man/$target" ] || grep -q '^\.so ' "$man/$target"; then
            fail "$f: links to $target, which is not a page"
            continue
        fi
        awk '/^\.Sh /{s=$2} s=="NAME" && /^\.Nm /{print $2}' "$man/$target" |
            grep -qx "$base" || fail "$f: $target does not document $base in its NAME"
        continue
    fi
    echo "$f" >> "$tmp/pages"
    names=$(awk '/^\.Sh /{s=$2} s=="NAME" && /^\.Nm /{print $2}' "$f")
    [ -n "$names" ] || { fail "$f: no .Nm in NAME"; continue; }
    echo "$names" | grep -qx "$base" || fail "$f: its own name $base is not in its NAME"
    for n in $names; do
        echo "$n $base" >> "$tmp/documented"
        if [ ! -f "$man/man3/$n.3" ]; then
            fail "$f: documents $n, but there is no man3/$n.3 (a .so link)"
        elif [ "$n" != "$base" ] && [ "$(sed -n 's/^\.so //p' "$man/man3/$n.3")" != "man3/$base.3" ]; then
            fail "man3/$n.3 must be .so man3/$base.3: $base documents $n"
        fi
    done
done
cut -d' ' -f1 "$tmp/documented" | sort > "$tmp/doc_names"
dups=$(uniq -d "$tmp/doc_names")
[ -z "$dups" ] || fail "documented by more than one page: $dups"
sort -u "$tmp/doc_names" > "$tmp/doc_names_u"
for n in $(comm -23 "$tmp/exported" "$tmp/doc_names_u"); do
    fail "exported by $(basename "$lib") but documented by no page: $n"
done
for n in $(comm -13 "$tmp/exported" "$tmp/doc_names_u"); do
    fail "a page documents $n, which $(basename "$lib") does not export"
done

# ---- names pages mention --------------------------------------------------
for f in "$man"/man3/*.3 "$man"/man7/xpoll.7; do
    grep -q '^\.so ' "$f" && continue
    awk '{
        for (i = 1; i < NF; i++)
            if (($i == "Fn" || $i == ".Fn" || $i == "Fo" || $i == ".Fo") &&
                $(i + 1) ~ /^xpoll_/)
                print "fn", $(i + 1)
            else if (($i == "Xr" || $i == ".Xr") && i + 2 <= NF)
                print "xr", $(i + 1), $(i + 2)
    }' "$f" | sort -u | while read -r kind name sect; do
        if [ "$kind" = fn ]; then
            grep -qx "$name" "$tmp/exported" ||
                echo "$f: names $name(), which the library does not export"
        else
            case $name in
            xpoll | xpoll_*)
                [ -f "$man/man$sect/$name.$sect" ] ||
                    echo "$f: refers to $name($sect), which has no page"
                ;;
            esac
        fi
    done >> "$tmp/mentions"
done
if [ -s "$tmp/mentions" ]; then
    while read -r line; do fail "$line"; done < "$tmp/mentions"
fi

# ---- sections -------------------------------------------------------------
while read -r f; do
    awk -v f="$f" '
        /^\.Sh / { s = substr($0, 5); seen[s] = 1 }
        s == "SYNOPSIS" && /^\.In / { inc = 1 }
        s == "SYNOPSIS" && /^\.F[no] / { syn[$2] = 1 }
        s == "NAME" && /^\.Nm / { nm[$2] = 1 }
        s == "SEE ALSO" && /^\.Xr xpoll 7/ { seven = 1 }
        END {
            n = split("NAME|LIBRARY|SYNOPSIS|DESCRIPTION|RETURN VALUES|SEE ALSO", want, "|")
            for (i = 1; i <= n; i++)
                if (!(want[i] in seen)) print f ": no " want[i] " section"
            if (!inc) print f ": SYNOPSIS names no header (.In)"
            if (!seven) print f ": SEE ALSO does not name xpoll(7)"
            for (x in nm) if (!(x in syn)) print f ": " x " is in NAME, not in SYNOPSIS"
            for (x in syn) if (!(x in nm)) print f ": " x " is in SYNOPSIS, not in NAME"
        }' "$f"
done < "$tmp/pages" > "$tmp/sections"
awk '/^\.Sh /{s=substr($0,5)} s=="SEE ALSO" && /^\.Xr xpoll_/ {print $2}' \
    "$man/man7/xpoll.7" | sort -u > "$tmp/seven_refs"
while read -r f; do
    basename "$f" .3
done < "$tmp/pages" | sort > "$tmp/page_names"
for n in $(comm -23 "$tmp/page_names" "$tmp/seven_refs"); do
    echo "man7/xpoll.7: SEE ALSO does not name $n(3)"
done >> "$tmp/sections"
if [ -s "$tmp/sections" ]; then
    while read -r line; do fail "$line"; done < "$tmp/sections"
fi

# ---- errors: the headers' side ----------------------------------------------
# Prints "E func ERRNO", "R func other_func" (errors as other_func()) and
# "X func" (a construct the check cannot read).
# shellcheck disable=SC2016 # awk program
awk '
function emit(name, doc,    rest, ref) {
    if (doc ~ /except[ \t]+-E/)
        print "X", name
    rest = doc
    while (match(rest, /-E[A-Z0-9]+/)) {
        print "E", name, substr(rest, RSTART + 1, RLENGTH - 1)
        rest = substr(rest, RSTART + RLENGTH)
    }
    rest = doc
    while (match(rest, /[Ee]rrors[^.]* as xpoll_[a-z0-9_]+\(\)/)) {
        ref = substr(rest, RSTART, RLENGTH)
        rest = substr(rest, RSTART + RLENGTH)
        match(ref, /xpoll_[a-z0-9_]+\(\)$/)
        print "R", name, substr(ref, RSTART, RLENGTH - 2)
    }
}
function finish(    name, doc) {
    in_decl = 0
    if (!match(decl, /xpoll_[a-z0-9_]+\(/))
        return
    name = substr(decl, RSTART, RLENGTH - 1)
    if (last == "comment") doc = comment
    else if (last == "decl") doc = prev
    else doc = ""
    emit(name, doc)
    prev = doc
    if (decl ~ /\{/ && decl !~ /\}/) in_body = 1
    else last = "decl"
}
FNR == 1 { in_comment = 0; in_decl = 0; in_body = 0; last = "other" }
in_body { if ($0 ~ /^\}/) { in_body = 0; last = "decl" }; next }
in_decl { decl = decl " " $0; if ($0 ~ /[;{]/) finish(); next }
in_comment {
    comment = comment " " $0
    if ($0 ~ /\*\//) { in_comment = 0; last = "comment" }
    next
}
/^[ \t]*\/\*/ {
    comment = $0
    if ($0 ~ /\*\//) last = "comment"; else in_comment = 1
    next
}
/^[ \t]*$/ { next }
/^XPOLL_(API|INLINE) / { decl = $0; in_decl = 1; if ($0 ~ /[;{]/) finish(); next }
{ last = "other" }
' "$include/xpoll.h" "$include"/xpoll/*.h > "$tmp/header_raw"
awk '$1 == "X" { print "header comment of " $2 "(): \"except -E...\" cannot be checked; list its errors" }' \
    "$tmp/header_raw" > "$tmp/header_bad"
if [ -s "$tmp/header_bad" ]; then
    while read -r line; do fail "$line"; done < "$tmp/header_bad"
fi
# Resolve "as xpoll_foo()" (transitively, a few levels deep).
awk '
$1 == "E" { has[$2 " " $3] = 1 }
$1 == "R" { ref[++nref] = $2 " " $3 }
END {
    for (round = 0; round < 4; round++)
        for (i = 1; i <= nref; i++) {
            split(ref[i], r, " ")
            for (k in has) {
                split(k, e, " ")
                if (e[1] == r[2]) has[r[1] " " e[2]] = 1
            }
        }
    for (k in has) print k
}' "$tmp/header_raw" | sort -u > "$tmp/header_errors"

# ---- errors: the pages' side --------------------------------------------------
while read -r f; do
    awk -v f="$f" '
    function apply(line,    i, n, scoped, fields, k) {
        if (npend == 0) return
        scoped = 0
        n = split(line, fields, " ")
        if (fields[1] == ".Fn" && fields[n] == ":")
            for (i = 1; i < n; i++)
                if (fields[i] == ".Fn" || fields[i] == "Fn") {
                    scoped = 1
                    if (!(fields[i + 1] in nm))
                        print "BAD", f ": an item is scoped to " fields[i + 1] ", which NAME does not list"
                    for (k = 1; k <= npend; k++) print "E", fields[i + 1], pend[k]
                }
        if (!scoped)
            for (x in nm) for (k = 1; k <= npend; k++) print "E", x, pend[k]
        npend = 0
    }
    /^\.Sh / { apply(""); s = substr($0, 5); next }
    s == "NAME" && /^\.Nm / { nm[$2] = 1 }
    s != "RETURN VALUES" && s != "ERRORS" { next }
    /^\.It / {
        got = 0
        for (i = 2; i < NF; i++) if ($i == "Er") { pend[++npend] = $(i + 1); got = 1 }
        if (got) next
    }
    npend > 0 { apply($0); next }
    s == "RETURN VALUES" {
        for (i = 1; i < NF; i++)
            if ($i == "Er" || $i == ".Er") print "M", f, $(i + 1)
    }
    END { apply("") }' "$f"
done < "$tmp/pages" > "$tmp/page_raw"
awk '$1 == "BAD" { $1 = ""; print substr($0, 2) }' "$tmp/page_raw" > "$tmp/page_bad"
awk '$1 == "E" { print $2, $3 }' "$tmp/page_raw" | sort -u > "$tmp/page_errors"
awk 'NR == FNR { if ($1 == "E") listed[$3] = 1; next }
    $1 == "M" && !($3 in listed) {
        print $2 ": its RETURN VALUES name " $3 ", which no item lists" }' \
    "$tmp/page_raw" "$tmp/page_raw" >> "$tmp/page_bad"
if [ -s "$tmp/page_bad" ]; then
    while read -r line; do fail "$line"; done < "$tmp/page_bad"
fi
# Compare, for the functions the pages document.
awk 'NR == FNR { doc[$1] = $2; next } ($1 in doc) { print }' \
    "$tmp/documented" "$tmp/header_errors" > "$tmp/header_documented"
comm -23 "$tmp/header_documented" "$tmp/page_errors" > "$tmp/only_header"
comm -13 "$tmp/header_documented" "$tmp/page_errors" > "$tmp/only_page"
while read -r fn e; do
    fail "$fn(): the header comment lists -$e, its page ($(awk -v n="$fn" '$1 == n { print $2 }' "$tmp/documented").3) does not"
done < "$tmp/only_header"
while read -r fn e; do
    fail "$fn(): its page ($(awk -v n="$fn" '$1 == n { print $2 }' "$tmp/documented").3) lists $e, the header comment does not"
done < "$tmp/only_page"

# ---- mandoc -Tlint ------------------------------------------------------------
# From docs/man, where the links' .so paths (man3/PAGE.3) resolve.  Pages
# must be clean.  A link is linted too (mandoc follows its .so), and may
# draw one warning only: mandoc's advice to use ln(1) instead of .so,
# which this manual does not take (.so links, as the Linux man-pages
# project and liburing ship them, survive git, tarballs and any install).
page_files=$(sed "s|^$man/||" "$tmp/pages" | tr '\n' ' ')
link_files=
for f in "$man"/man3/*.3; do
    grep -q '^\.so ' "$f" && link_files="$link_files man3/$(basename "$f")"
done
# shellcheck disable=SC2086 # file lists: several arguments
if ! (cd "$man" && mandoc -Tlint -W warning $page_files man7/xpoll.7) > "$tmp/lint" 2>&1; then
    cat "$tmp/lint" >&2
    fail "mandoc -Tlint -W warning is not clean on the pages"
fi
if [ -n "$link_files" ]; then
    # shellcheck disable=SC2086
    (cd "$man" && mandoc -Tlint -W warning $link_files) > "$tmp/lint_links" 2>&1 || true
    if grep -v 'WARNING: \.so is fragile, better use ln(1)' "$tmp/lint_links" > "$tmp/lint_links_other"; then
        cat "$tmp/lint_links_other" >&2
        fail "mandoc -Tlint -W warning is not clean on the links"
    fi
fi

pages=$(wc -l < "$tmp/pages")
links=$(($(find "$man/man3" -name '*.3' | wc -l) - pages))
if [ "$failed" -ne 0 ]; then
    echo "check-man: FAILED" >&2
    exit 1
fi
echo "check-man: $(wc -l < "$tmp/exported") exported functions on $pages pages and $links links," \
    "$(wc -l < "$tmp/page_errors") function/errno pairs as the headers list them, mandoc -Tlint clean"
