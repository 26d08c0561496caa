#!/bin/sh
# XPOLL_BACKEND is read normally, and ignored in a set-user-ID or
# set-group-ID program: copies of the probe owned by another user (group)
# with the set-user-ID (set-group-ID) bit run with that effective id, and
# the kernel marks them AT_SECURE, so secure_getenv(3) returns NULL there.
# Needs root (to give the copies away) and a file system that honours the
# set-user-ID bit; skips (77) with the reason otherwise.
# usage: check_privileged_env.sh PROBE WORK_DIR
set -eu
probe=$1
work=$2

skip() {
    echo "skipped: $*"
    exit 77
}
[ "$(id -u)" = 0 ] || skip "only root can make a set-user-ID copy owned by another user"
user=nobody
group=$(id -gn "$user" 2>/dev/null) || skip "no user '$user' to own the copies"

mkdir -p "$work"
dir=$(mktemp -d "$work/privileged-env.XXXXXX")
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
cp "$probe" "$dir/plain"
cp "$probe" "$dir/setuid"
cp "$probe" "$dir/setgid"
chown "$user" "$dir/setuid"
chmod 4755 "$dir/setuid"
chgrp "$group" "$dir/setgid"
chmod 2755 "$dir/setgid"

# The set-user-ID and set-group-ID bits took effect (no nosuid mount, no
# no_new_privs): ids=uid,euid,gid,egid with euid (egid) the new owner's.
ids() { XPOLL_BACKEND= "$dir/$1" | sed 's/.*ids=//'; }
uid=$(id -u "$user")
gid=$(id -g "$user")
case $(ids setuid) in
    *,"$uid",*,*) ;;
    *) skip "the set-user-ID bit had no effect here (nosuid mount or no_new_privs)" ;;
esac
case $(ids setgid) in
    *,*,*,"$gid") ;;
    *) skip "the set-group-ID bit had no effect here (nosuid mount or no_new_privs)" ;;
esac

failed=0
# expect PROGRAM XPOLL_BACKEND-VALUE PATTERN
expect() {
    out=$(XPOLL_BACKEND=$2 "$dir/$1")
    case $out in
        $3) echo "ok: $1 with XPOLL_BACKEND=$2: $out" ;;
        *) echo "FAILED: $1 with XPOLL_BACKEND=$2: $out (expected $3)"
           failed=1 ;;
    esac
}
# An ordinary program follows the variable, garbage included.
expect plain bogus 'rc=ENOTSUP backend=none *'
expect plain epoll 'rc=0 backend=epoll *'
# A privileged one ignores it and takes the default.
for program in setuid setgid; do
    expect $program bogus 'rc=0 backend=epoll *'
    expect $program kqueue 'rc=0 backend=epoll *'
done
exit $failed
