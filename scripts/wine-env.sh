# shellcheck shell=bash
# Sourced, not run:   . scripts/wine-env.sh
# (no arguments: a sourced file sees the sourcing script's own.)
#
# Sets up Wine (Debian's wine64, see scripts/windows-deps.sh) for running
# the Windows test programs, headless, in a Wine prefix of the project's own
# (default build/windows/wineprefix; XPOLL_WINEPREFIX chooses another),
# and leaves a persistent wineserver running for it, so that each .exe
# ctest starts costs tens of milliseconds (here 50-150 ms on a loaded
# two-core machine) instead of the 1-2 s of starting the server and Wine's
# services.  Prints how long creating the prefix took (when it was missing)
# and how long a trivial .exe takes, and checks the exit status rule below.
#
# Exit status: wine64 exits with the low 8 bits of the Windows program's
# exit code, except that a non-zero code whose low 8 bits are 0 gives 1
# (measured with Wine 8.0: 256 and 512 give 1, 258 gives 2), so a failure
# never reads as success.  An unhandled exception runs winedbg, which
# writes a backtrace to the program's standard output, and then the status
# is the exception code's low byte (an access violation, 0xC0000005: 5).
#
# Exports: WINEPREFIX, WINEARCH=win64, WINEDEBUG=-all, WINESERVER (the
# 64-bit server itself), XPOLL_WINE64 (the 64-bit loader: what
# cmake/mingw-w64-x86_64.cmake uses as CMAKE_CROSSCOMPILING_EMULATOR).
# Defines xpoll_wine_stop, which ends the persistent wineserver.
# Returns non-zero (and prints why) when Wine cannot run a program.
#
# Notes on Debian's packaging that this works around:
#   - /usr/bin/wineserver is a wrapper that runs wineserver64 with -p0
#     before the caller's options, and wine64 starts a missing server
#     through it: each .exe then starts a server that exits with it.
#   - /usr/bin/wine prefers the 32-bit loader and warns that wine32 is
#     missing; the 64-bit loader /usr/lib/wine/wine64 is run directly.

_xpoll_wine_setup() {
    local here prefix start ms exe src status
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    prefix=${XPOLL_WINEPREFIX:-$here/build/windows/wineprefix}
    mkdir -p "$(dirname "$prefix")" || return 1
    prefix=$(cd "$(dirname "$prefix")" && pwd)/$(basename "$prefix")

    XPOLL_WINE64=/usr/lib/wine/wine64
    WINESERVER=/usr/lib/wine/wineserver64
    if [ ! -x "$XPOLL_WINE64" ] || [ ! -x "$WINESERVER" ]; then
        echo "wine-env: $XPOLL_WINE64 or $WINESERVER missing: run scripts/windows-deps.sh" >&2
        return 1
    fi
    export XPOLL_WINE64 WINESERVER
    export WINEPREFIX=$prefix WINEARCH=win64 WINEDEBUG=-all
    # No window may open: a crash dialog on a machine with a display would
    # wait for a click where a test must fail.
    unset DISPLAY WAYLAND_DISPLAY

    if [ ! -f "$WINEPREFIX/system.reg" ]; then
        start=$(date +%s%N)
        # mscoree and mshtml disabled: wineboot does not offer to install
        # Wine Mono and Wine Gecko (neither is packaged for a headless run,
        # and console programs need neither).
        WINEDLLOVERRIDES='mscoree,mshtml=' "$XPOLL_WINE64" wineboot -i \
            < /dev/null > /dev/null 2>&1 || {
            echo "wine-env: wineboot -i failed for $WINEPREFIX" >&2
            return 1
        }
        # The server writes the registry when it exits: wait for that, so
        # the prefix is complete on disk before it is used.
        timeout 120 "$WINESERVER" -w || {
            echo "wine-env: the wineserver of wineboot -i did not exit" >&2
            return 1
        }
        ms=$((($(date +%s%N) - start) / 1000000))
        [ -f "$WINEPREFIX/system.reg" ] || {
            echo "wine-env: no system.reg in $WINEPREFIX after wineboot" >&2
            return 1
        }
        echo "wine-env: created $WINEPREFIX in $ms ms"
    fi

    # A persistent server: it stays after the last program exits, until
    # xpoll_wine_stop, and so do Wine's own services (services.exe,
    # explorer.exe, ...) that the first program starts, which is most of a
    # cold start.  wineserver refuses to start (status 1, no message) while
    # another runs for the same prefix: one that an earlier source of this
    # file started is kept; any other exits once its last program has, so
    # wait for that (bounded: a program may still be running) and start ours.
    #
    # The server and the services outlive this shell's commands and keep
    # the standard streams they were started with: given the caller's, a
    # pipe such as "script 2>&1 | tee log" would never see its end.  So
    # both start here, on /dev/null (the services with the first program).
    if ! _xpoll_wineserver_persistent &&
        ! "$WINESERVER" -p < /dev/null > /dev/null 2>&1; then
        timeout 60 "$WINESERVER" -w || true
        "$WINESERVER" -p < /dev/null > /dev/null 2>&1 || {
            echo "wine-env: another wineserver runs for $WINEPREFIX; cannot start a persistent one" >&2
            return 1
        }
    fi

    # A trivial program, to time and to prove the exit status: build it
    # with mingw-w64 when there is one.
    exe=$(dirname "$WINEPREFIX")/xpoll-exit.exe
    if [ ! -f "$exe" ] && command -v x86_64-w64-mingw32-gcc > /dev/null; then
        src=$(dirname "$WINEPREFIX")/xpoll-exit.c
        printf '%s\n' '#include <stdlib.h>' \
            'int main(int argc, char **argv) { return argc > 1 ? atoi(argv[1]) : 0; }' > "$src"
        x86_64-w64-mingw32-gcc -O2 -o "$exe" "$src" || return 1
    fi
    if [ -f "$exe" ]; then
        start=$(date +%s%N)
        "$XPOLL_WINE64" "$exe" 0 < /dev/null > /dev/null 2>&1 || {
            echo "wine-env: $exe 0 failed under wine64" >&2
            return 1
        }
        ms=$((($(date +%s%N) - start) / 1000000))
        start=$(date +%s%N)
        status=0
        "$XPOLL_WINE64" "$exe" 42 < /dev/null > /dev/null 2>&1 || status=$?
        ms="$ms ms (first), $((($(date +%s%N) - start) / 1000000)) ms (warm)"
        if [ "$status" != 42 ]; then
            echo "wine-env: $exe 42 exited $status under wine64, not 42" >&2
            return 1
        fi
        status=0
        "$XPOLL_WINE64" "$exe" 256 < /dev/null > /dev/null 2>&1 || status=$?
        if [ "$status" = 0 ]; then
            echo "wine-env: $exe 256 exited 0 under wine64: a failure would read as success" >&2
            return 1
        fi
        echo "wine-env: trivial .exe $ms; exit codes 42 and 256 give statuses 42 and $status"
    fi
    echo "wine-env: WINEPREFIX=$WINEPREFIX, wineserver persistent ($WINESERVER)"
}

# True when a "wineserver64 -p" (no timeout: persistent) runs for WINEPREFIX.
_xpoll_wineserver_persistent() {
    local pid args
    for pid in $(pgrep -x wineserver64 2> /dev/null); do
        args=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null) || continue
        [ "$args" = "$WINESERVER -p " ] || continue
        tr '\0' '\n' < "/proc/$pid/environ" 2> /dev/null |
            grep -qxF "WINEPREFIX=$WINEPREFIX" && return 0
    done
    return 1
}

xpoll_wine_stop() {
    "${WINESERVER:-/usr/lib/wine/wineserver64}" -k 2> /dev/null || true
}

_xpoll_wine_setup
