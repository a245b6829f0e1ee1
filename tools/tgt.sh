#!/bin/bash
# Install, start and stop a private tgtd (the Linux SCSI target daemon) for
# tests and demos, on 127.0.0.1 only.
#
#   tools/tgt.sh install       apt-get install tgt, tgt-rbd and user-space
#                              iSCSI initiators (libiscsi-bin, qemu-img/qemu-io)
#   tools/tgt.sh start DIR     start tgtd with its own control socket (-C N)
#                              and portal; write DIR/env and DIR/tgtd.pid
#   tools/tgt.sh stop DIR      delete every target of that tgtd, ask it to
#                              exit, SIGKILL the recorded PID if still alive
#
# start honours M2_TGT_CONTROL_PORT and M2_TGT_PORT when set; otherwise it
# picks a free control socket number and a free TCP port (3260 only if free).
# DIR/env holds M2_TGT_CONTROL_PORT, M2_TGT_PORTAL, M2_TGT_PID, M2_TGT_LOG.
set -euo pipefail

die() { echo "tgt.sh: $*" >&2; exit 1; }

alive() {
    # kill -0 succeeds on a zombie, and this machine's init may not reap.
    kill -0 "$1" 2>/dev/null || return 1
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != "Z" ]
}

PACKAGES="tgt tgt-rbd libiscsi-bin qemu-utils qemu-block-extra"

do_install() {
    local missing=""
    for pkg in $PACKAGES; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing="$missing $pkg"
    done
    if [ -z "$missing" ]; then
        echo "tgt.sh: already installed:$PACKAGES"
        return 0
    fi
    # tgt's postinst may try to start the service: with no init system here
    # that fails harmlessly, and we never use the system tgtd anyway.
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing \
        || { apt-get update && DEBIAN_FRONTEND=noninteractive \
             apt-get install -y --no-install-recommends $missing; }
    command -v tgtd >/dev/null || die "tgtd still missing after install"
}

port_in_use() {
    # Any listener on that TCP port, on any address, counts as taken.
    ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

pick_port() {
    if ! port_in_use 3260; then echo 3260; return; fi
    local p
    for _ in $(seq 1 200); do
        p=$(( 20000 + RANDOM % 20000 ))
        if ! port_in_use "$p"; then echo "$p"; return; fi
    done
    die "no free TCP port found"
}

control_in_use() {
    # A tgtd answering on socket N means N is taken (stale socket files of a
    # dead tgtd are fine: tgtd replaces them).
    tgtadm -C "$1" --mode system --op show >/dev/null 2>&1
}

pick_control() {
    local n
    for _ in $(seq 1 200); do
        n=$(( 100 + RANDOM % 9000 ))
        if ! control_in_use "$n"; then echo "$n"; return; fi
    done
    die "no free tgtd control socket number found"
}

do_start() {
    local dir="$1"
    command -v tgtd >/dev/null || die "tgtd is not installed (run: $0 install)"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ -f "$dir/tgtd.pid" ] && alive "$(cat "$dir/tgtd.pid")"; then
        die "a tgtd started from $dir is already running (pid $(cat "$dir/tgtd.pid"))"
    fi
    local control="${M2_TGT_CONTROL_PORT:-}" port="${M2_TGT_PORT:-}"
    [ -n "$control" ] || control=$(pick_control)
    [ -n "$port" ] || port=$(pick_port)
    control_in_use "$control" && die "tgtd control socket $control is already in use"
    port_in_use "$port" && die "TCP port $port is already in use"

    # tgtd's Ceph client (rbd backing store) reads CEPH_CONF, CEPH_KEYRING
    # and CEPH_ARGS from its own environment; a stray one breaks every rbd
    # LUN, so tgtd never gets them: the conf and user go in each LUN's bsopts.
    # setsid: the daemon must not die with the shell that started it.
    env -u CEPH_CONF -u CEPH_KEYRING -u CEPH_ARGS \
        setsid tgtd -f -C "$control" --iscsi "portal=127.0.0.1:$port" \
        </dev/null >"$dir/tgtd.log" 2>&1 &
    local pid=$!
    echo "$pid" >"$dir/tgtd.pid"

    # tgtd keeps running when it cannot bind its portal (it only logs it), so
    # readiness is: control socket answers AND our pid listens on the port.
    local ok=""
    for _ in $(seq 1 100); do
        alive "$pid" || break
        if control_in_use "$control" \
                && ss -Hltnp "sport = :$port" 2>/dev/null | grep -q "pid=$pid,"; then
            ok=1; break
        fi
        sleep 0.1
    done
    if [ -z "$ok" ]; then
        kill -KILL "$pid" 2>/dev/null || true
        cat "$dir/tgtd.log" >&2 || true
        die "tgtd did not become ready (control $control, portal 127.0.0.1:$port)"
    fi
    cat >"$dir/env" <<EOF
M2_TGT_CONTROL_PORT=$control
M2_TGT_PORTAL=127.0.0.1:$port
M2_TGT_PID=$pid
M2_TGT_LOG=$dir/tgtd.log
EOF
    cat "$dir/env"
}

do_stop() {
    local dir="$1"
    [ -f "$dir/tgtd.pid" ] || { echo "tgt.sh: nothing recorded in $dir"; return 0; }
    local pid control
    pid=$(cat "$dir/tgtd.pid")
    control=$(sed -n 's/^M2_TGT_CONTROL_PORT=//p' "$dir/env" 2>/dev/null || true)
    if [ -n "$control" ] && alive "$pid"; then
        # tgtd ignores SIGTERM and refuses to exit while targets exist.
        local tids
        tids=$(tgtadm -C "$control" --lld iscsi --mode target --op show 2>/dev/null \
               | sed -n 's/^Target \([0-9]\+\): .*/\1/p' || true)
        for tid in $tids; do
            tgtadm -C "$control" --lld iscsi --mode target --op delete --force \
                --tid "$tid" >/dev/null 2>&1 || true
        done
        tgtadm -C "$control" --op delete --mode system >/dev/null 2>&1 || true
        for _ in $(seq 1 50); do
            alive "$pid" || break
            sleep 0.1
        done
    fi
    # Only kill the recorded PID if it is still our tgtd (PIDs get reused).
    if alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null \
            | grep -q "^tgtd -f -C $control "; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/tgtd.pid"
    echo "tgt.sh: stopped tgtd $pid"
}

case "${1:-}" in
    install) do_install ;;
    start) [ -n "${2:-}" ] || die "usage: $0 start DIR"; do_start "$2" ;;
    stop) [ -n "${2:-}" ] || die "usage: $0 stop DIR"; do_stop "$2" ;;
    *) die "usage: $0 install | start DIR | stop DIR" ;;
esac
