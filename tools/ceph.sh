#!/bin/bash
# Stand up a private single-node Ceph cluster (one monitor, one OSD) for tests
# and demos, on 127.0.0.1, without systemd.
#
#   tools/ceph.sh install          apt packages + rados/rbd bindings in the venv
#   tools/ceph.sh start DIR        bootstrap (or restart) a cluster under DIR
#   tools/ceph.sh stop DIR         stop it by the PIDs recorded in DIR (OSD, then mon)
#   tools/ceph.sh stop-mon DIR     stop only the monitor (outage tests)
#   tools/ceph.sh start-mon DIR    start the monitor again and wait for it
#   tools/ceph.sh status DIR       print the recorded PIDs and whether they run
#
# Environment:
#   M2_VENV            venv to make the bindings importable in (default /work/main/.venv)
#   PYTHON             or: the python whose site-packages gets the .pth
#   M2_CEPH_MON_PORT   monitor msgr v1 port (default 6789; "auto" picks a free one)
#   M2_CEPH_MON_V2_PORT monitor msgr v2 port (default 3300; "auto" picks a free one)
#   M2_CEPH_OBJECTSTORE bluestore (default: survives SIGKILL, RAM flat) or memstore
#   M2_CEPH_OSD_SIZE   size of the OSD's sparse block file / memstore (default 24G / 4G)
#   M2_CEPH_POOL       pool to create (default rbd)
#   M2_CEPH_READY_TIMEOUT seconds to wait for readiness (default 90)
#
# DIR/env receives CEPH_CONF, M2_CEPH_CONF, M2_CEPH_POOL, M2_CEPH_USER and
# M2_CEPH_KEYRING (the least-privilege client.m2 user, caps "profile rbd").
set -euo pipefail

PACKAGES=(ceph-mon ceph-osd ceph-common python3-rados python3-rbd)
DIST=/usr/lib/python3/dist-packages

die() { echo "ceph.sh: $*" >&2; exit 1; }
log() { echo "ceph.sh: $*" >&2; }

target_python() {
    if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; else echo "${M2_VENV:-/work/main/.venv}/bin/python"; fi
}

cmd_install() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGES[@]}" >&2
    fi
    local py; py=$(target_python)
    [ -x "$py" ] || die "no python at $py (set M2_VENV or PYTHON)"
    # PyPI has no usable rados/rbd bindings: expose Debian's, and only them
    # (the whole dist-packages would shadow the venv's own libraries).
    local site links
    site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    links="$(dirname "$site")/m2-ceph-bindings"
    mkdir -p "$links"
    local so
    for so in "$DIST"/rados*.so "$DIST"/rbd*.so; do
        [ -e "$so" ] || die "missing $so (python3-rados / python3-rbd)"
        ln -sfn "$so" "$links/$(basename "$so")"
    done
    echo "$links" > "$site/m2-ceph-bindings.pth"
    "$py" -c 'import rados, rbd' || die "$py cannot import rados/rbd (python version mismatch with Debian's bindings?)"
    log "installed; rados/rbd importable by $py"
}

# A free TCP port on 127.0.0.1 (the kernel picks it).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# kill -0 succeeds on a zombie, and this machine's init may not reap.
pid_alive() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# Start daemon NAME (mon|osd) with its argument list; record its PID.
spawn() {
    local name=$1; shift
    # setsid: the daemon must not die with the caller's terminal or process group.
    setsid "$@" </dev/null >>"$DIR/log/$name.out" 2>&1 &
    echo $! > "$DIR/$name.pid"
}

stop_pid() {
    local name=$1 pidfile="$DIR/$1.pid" pid i
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    # A recorded PID may have been reused since: only signal our own daemon.
    if pid_alive "$pid" && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "-c $CONF "; then
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 100); do pid_alive "$pid" || break; sleep 0.1; done
        if pid_alive "$pid"; then log "$name ($pid) ignored SIGTERM, killing"; kill -KILL "$pid" || true; fi
    fi
    rm -f "$pidfile"
}

wait_ready() {
    local deadline=$(( $(date +%s) + ${M2_CEPH_READY_TIMEOUT:-90} ))
    # Without a mgr this is the honest probe: it needs the monitor, an up
    # OSD and active placement groups in the pool.
    until timeout 10 rados -c "$CONF" -p "$POOL" ls >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || die "cluster in $DIR not ready; see $DIR/log"
        sleep 0.3
    done
}

wait_mon() {
    local deadline=$(( $(date +%s) + ${M2_CEPH_READY_TIMEOUT:-90} ))
    until timeout 10 ceph -c "$CONF" --connect-timeout 5 mon stat >/dev/null 2>&1; do
        pid_alive "$(cat "$DIR/mon.pid")" || die "ceph-mon exited; see $DIR/log/mon.a.log"
        [ "$(date +%s)" -lt "$deadline" ] || die "monitor in $DIR not answering"
        sleep 0.2
    done
}

write_conf() {
    local fsid=$1 v1=$2 v2=$3 store=$4 size=$5
    local storeconf
    if [ "$store" = memstore ]; then
        # osd fast shutdown = false: else memstore drops its data on stop.
        storeconf="osd objectstore = memstore
memstore device bytes = $size
osd fast shutdown = false"
    else
        storeconf="osd objectstore = bluestore
bluestore block create = true
bluestore block size = $size
bluestore fsck on mkfs = false
bluestore fsck on mount = false"
    fi
    cat > "$CONF" <<EOF
# Private test cluster made by tools/ceph.sh; not for production.
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$v2,v1:127.0.0.1:$v1]
public network = 127.0.0.0/8
ms bind ipv6 = false
run dir = $DIR/run
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
mon allow pool size one = true
# Tests create and drop scratch pools.
mon allow pool delete = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
# The shared disk may be under 30% free.
mon data avail warn = 2
mon data avail crit = 1
# No mgr here: no MGR_DOWN warning.
mon mgr mkfs grace = 315360000
# Snapshot create/remove in ~60 ms instead of 0.5-1 s.
paxos propose interval = 0.05
# Keyrings, pid and log files go in the daemon sections: a [global]
# keyring line breaks the OSD.
[mon]
mon data = $DIR/mon/ceph-\$id
keyring = $DIR/mon/keyring
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/cluster.log
admin socket = $DIR/run/\$name.asok
[osd]
osd data = $DIR/osd/ceph-\$id
keyring = $DIR/osd/ceph-\$id/keyring
log file = $DIR/log/\$name.log
admin socket = $DIR/run/\$name.asok
# Keep RAM modest on a shared test machine.
osd memory target = 1073741824
osd op num shards = 2
osd op num threads per shard = 1
$storeconf
[client.admin]
keyring = $DIR/ceph.client.admin.keyring
[client.m2]
keyring = $DIR/ceph.client.m2.keyring
EOF
}

write_env() {
    cat > "$DIR/env" <<EOF
CEPH_CONF=$CONF
M2_CEPH_CONF=$CONF
M2_CEPH_POOL=$POOL
M2_CEPH_USER=m2
M2_CEPH_KEYRING=$DIR/ceph.client.m2.keyring
M2_CEPH_MON_PORT=$(cat "$DIR/mon.port")
EOF
    cat "$DIR/env"
}

bootstrap() {
    local v1=${M2_CEPH_MON_PORT:-6789} v2=${M2_CEPH_MON_V2_PORT:-3300}
    local store=${M2_CEPH_OBJECTSTORE:-bluestore} size
    [ "$v1" = auto ] && v1=$(free_port)
    [ "$v2" = auto ] && v2=$(free_port)
    case $store in
        bluestore) size=${M2_CEPH_OSD_SIZE:-24G} ;;
        memstore) size=${M2_CEPH_OSD_SIZE:-4G} ;;
        *) die "M2_CEPH_OBJECTSTORE must be bluestore or memstore" ;;
    esac
    # numfmt: memstore wants bytes.
    size=$(numfmt --from=iec "$size")
    local p
    for p in "$v1" "$v2"; do port_busy "$p" && die "port 127.0.0.1:$p is in use (set M2_CEPH_MON_PORT/M2_CEPH_MON_V2_PORT, or auto)"; done
    mkdir -p "$DIR"/{mon/ceph-a,osd/ceph-0,run,log}
    echo "$v1" > "$DIR/mon.port"
    local fsid; fsid=$(cat /proc/sys/kernel/random/uuid)
    write_conf "$fsid" "$v1" "$v2" "$store" "$size"

    ceph-authtool --create-keyring "$DIR/mon/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    ceph-authtool --create-keyring "$DIR/ceph.client.admin.keyring" --gen-key -n client.admin \
        --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
    ceph-authtool "$DIR/mon/keyring" --import-keyring "$DIR/ceph.client.admin.keyring" >/dev/null
    monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$v2,v1:127.0.0.1:$v1]" "$DIR/monmap" >/dev/null
    ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/mon/keyring"
    spawn mon ceph-mon -c "$CONF" -i a -f
    wait_mon

    local uuid key id
    uuid=$(cat /proc/sys/kernel/random/uuid)
    key=$(ceph-authtool --gen-print-key)
    printf '{"cephx_secret": "%s"}\n' "$key" > "$DIR/osd/secret.json"
    id=$(ceph -c "$CONF" osd new "$uuid" -i "$DIR/osd/secret.json")
    [ "$id" = 0 ] || die "unexpected OSD id $id"
    rm -f "$DIR/osd/secret.json"
    ceph-authtool --create-keyring "$DIR/osd/ceph-0/keyring" --name osd.0 --add-key "$key" >/dev/null
    ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$uuid" >>"$DIR/log/osd.out" 2>&1 \
        || die "ceph-osd --mkfs failed; see $DIR/log/osd.out"
    spawn osd ceph-osd -c "$CONF" -i 0 -f

    ceph -c "$CONF" osd pool create "$POOL" 8 8 >/dev/null 2>&1
    rbd -c "$CONF" pool init "$POOL"
    # The user m2 runs as: only what RBD needs, only in its pool.
    ceph -c "$CONF" auth get-or-create client.m2 mon 'profile rbd' \
        osd "profile rbd pool=$POOL" -o "$DIR/ceph.client.m2.keyring"
    echo "$POOL" > "$DIR/pool"
}

cmd_start() {
    command -v ceph-mon >/dev/null || die "ceph is not installed: run tools/ceph.sh install"
    local t0; t0=$(date +%s.%N)
    if [ -f "$CONF" ]; then
        # Restart an existing cluster (bluestore keeps its data).
        POOL=$(cat "$DIR/pool")
        pid_alive "$(cat "$DIR/mon.pid" 2>/dev/null)" || { spawn mon ceph-mon -c "$CONF" -i a -f; wait_mon; }
        pid_alive "$(cat "$DIR/osd.pid" 2>/dev/null)" || spawn osd ceph-osd -c "$CONF" -i 0 -f
    else
        bootstrap
    fi
    wait_ready
    log "ready in $(python3 -c "import time; print(round(time.time() - $t0, 1))")s (mon pid $(cat "$DIR/mon.pid"), osd pid $(cat "$DIR/osd.pid"))"
    write_env
}

cmd_stop() {
    stop_pid osd
    stop_pid mon
}

cmd_status() {
    local n
    for n in mon osd; do
        if pid_alive "$(cat "$DIR/$n.pid" 2>/dev/null)"; then echo "$n running $(cat "$DIR/$n.pid")"; else echo "$n stopped"; fi
    done
}

action=${1:-}
case $action in
    install) cmd_install; exit 0 ;;
    start|stop|stop-mon|start-mon|status)
        [ $# -ge 2 ] || die "usage: $0 $action DIR"
        [ "$action" = start ] && mkdir -p "$2"
        [ -d "$2" ] || die "no directory $2"
        DIR=$(cd "$2" && pwd)
        CONF=$DIR/ceph.conf
        POOL=${M2_CEPH_POOL:-rbd}
        ;;
    *) die "usage: $0 install | start DIR | stop DIR | stop-mon DIR | start-mon DIR | status DIR" ;;
esac

case $action in
    start) cmd_start ;;
    stop) cmd_stop ;;
    stop-mon) stop_pid mon ;;
    start-mon)
        [ -f "$CONF" ] || die "no cluster in $DIR"
        pid_alive "$(cat "$DIR/mon.pid" 2>/dev/null)" || spawn mon ceph-mon -c "$CONF" -i a -f
        wait_mon ;;
    status) cmd_status ;;
esac
