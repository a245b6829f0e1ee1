#!/bin/bash
# Build a tiny bootable test disk for M2's boot chain, from Debian packages only.
#
#   tools/boot-image.sh install          apt-get install QEMU, iPXE, syslinux, busybox, ...
#   tools/boot-image.sh build OUT_DIR    write OUT_DIR/m2-test-disk.raw (64 MiB, sparse, raw)
#   tools/boot-image.sh tftp-files DIR   copy pxelinux.0, ldlinux.c32 and ipxe.lkrn into DIR
#   tools/boot-image.sh info             print the kernel version and cache directory in use
#
# The disk: an MBR (syslinux mbr.bin) with one active FAT partition at sector 2048 holding
# syslinux, a Debian kernel and a busybox initramfs. The last MiB of the disk lies outside the
# partition and is the "marker area". The initramfs' /init:
#   1. prints "M2-BOOT-MARKER node=<initiator iqn> target=<target iqn> mac=<mac> image=<label>"
#      on /dev/ttyS0 (node/target come from the iBFT that iPXE's sanboot leaves; "unknown" when
#      booted some other way);
#   2. logs in to the iSCSI disk again from Linux (the BIOS's iSCSI path ends when the kernel
#      starts) with open-iscsi's "iscsistart -b", which reads the iBFT;
#   3. prints "M2-DISK-MARKER-BEFORE=<what the marker area held, or none>", writes
#      "M2-DISK-MARKER count=<previous+1> node=<iqn> nonce=<random>" there, syncs, reads it back
#      and prints "M2-WRITTEN-BY=<that line>" and "M2-DISK-MARKER-AFTER=<read back>";
#   4. prints "M2-BOOT-DONE status=<ok|...>" and powers off (poweroff -f).
# Steps 2-3 print "M2-DISK-ERROR=<reason>" instead when they cannot work; step 1 and 4 always run.
#
# Nothing is installed for the guest: the kernel, its modules and iscsistart come from
# "apt-get download" and are cached (only the few files used) under $M2_TEST_IMAGE_CACHE
# (default ~/.cache/m2-test-image). No loop device, no mount, no root filesystem needed.
#
# Environment: M2_TEST_KERNEL=<version, e.g. 6.1.0-56-amd64> pins the kernel (default: what
# linux-image-amd64 depends on); M2_TEST_IMAGE_CACHE moves the cache.
set -euo pipefail

PACKAGES=(qemu-system-x86 qemu-block-extra qemu-utils ipxe-qemu ipxe pxelinux syslinux-common
          syslinux busybox-static cpio dosfstools fdisk mtools gzip)
CACHE=${M2_TEST_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/m2-test-image}
DISK_NAME=m2-test-disk.raw
DISK_MIB=64
# Kernel modules the guest loads (their dependencies are added automatically): the NIC, the
# SCSI disk, the kernel's iSCSI initiator, the iBFT reader and the crc32c that iscsi_tcp needs.
WANTED_MODULES=(e1000 sd_mod iscsi_tcp iscsi_ibft crc32c_generic)

SCRATCH=
cleanup() { [ -z "$SCRATCH" ] || rm -rf "$SCRATCH"; }
trap cleanup EXIT
# A fresh directory under this run's scratch dir (removed at exit, even on errors). SCRATCH is
# made by cmd_build itself: $(scratch) runs in a subshell that could not set it for us.
scratch() { mktemp -d "$SCRATCH/XXXXXX"; }

log() { echo "boot-image: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cmd_install() {
    local missing=()
    local p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        log "all packages already installed"
        return 0
    fi
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
}

kernel_version() {
    if [ -n "${M2_TEST_KERNEL:-}" ]; then
        # It becomes a package name and a cache path: nothing else than a version.
        [[ $M2_TEST_KERNEL =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] \
            || die "M2_TEST_KERNEL=$M2_TEST_KERNEL is not a kernel version like 6.1.0-56-amd64"
        echo "$M2_TEST_KERNEL"
        return
    fi
    # Asking apt costs seconds; the answer only changes when the package lists do.
    local v memo="$CACHE/kernel-version"
    if [ -s "$memo" ] && [ -z "$(find /var/lib/apt/lists -newer "$memo" -name '*Packages*' \
                                2>/dev/null | head -n1)" ]; then
        cat "$memo"
        return
    fi
    v=$(apt-cache depends linux-image-amd64 2>/dev/null \
        | awk '/Depends: linux-image-[0-9]/ {sub("linux-image-", "", $2); print $2; exit}')
    [ -n "$v" ] || die "cannot tell which kernel linux-image-amd64 wants (apt-get update?)"
    mkdir -p "$CACHE" && echo "$v" > "$memo"
    echo "$v"
}

# apt-get download into the current directory; the _apt sandbox warning is noise here.
download() {
    apt-get download "$@" 2>&1 | grep -v -e 'unsandboxed' -e '^Get:' -e '^Fetched' >&2 || true
    local p
    for p in "$@"; do
        ls ./"${p}"_*.deb >/dev/null 2>&1 || die "apt-get download $p failed"
    done
}

# Cache vmlinuz and the wanted modules (with their dependency closure, in load order) of one
# kernel: CACHE/kernel-VER/{vmlinuz,modules/*.ko,modules.order}. The 70 MB .deb is not kept.
fetch_kernel() {
    local ver=$1 dst="$CACHE/kernel-$1"
    [ -f "$dst/.complete" ] && return 0
    log "fetching linux-image-$ver (once; cached in $dst)"
    local tmp
    tmp=$(scratch)
    (
        cd "$tmp"
        download "linux-image-$ver"
        dpkg-deb --fsys-tarfile linux-image-"$ver"_*.deb \
            | tar -x --wildcards "./boot/vmlinuz-$ver" "./lib/modules/$ver/kernel/*"
    )
    rm -rf "$dst" && mkdir -p "$dst/modules"
    cp "$tmp/boot/vmlinuz-$ver" "$dst/vmlinuz"
    # Map module name -> file (modules.dep is made by depmod at install time, so not shipped).
    local index="$tmp/index"
    find "$tmp/lib/modules/$ver/kernel" -name '*.ko' | while read -r f; do
        local n=${f##*/}; n=${n%.ko}; echo "${n//-/_} $f"
    done > "$index"
    local order=() seen=" "
    visit() {
        local name=${1//-/_} file deps d
        case "$seen" in *" $name "*) return 0 ;; esac
        seen+="$name "
        file=$(awk -v n="$name" '$1 == n {print $2; exit}' "$index")
        [ -n "$file" ] || return 0     # built into the kernel
        deps=$(grep -a -o 'depends=[A-Za-z0-9_,-]*' "$file" | head -n1 | cut -d= -f2 | tr ',' ' ')
        for d in $deps; do visit "$d"; done
        cp "$file" "$dst/modules/$name.ko"
        order+=("$name")
    }
    local m
    for m in "${WANTED_MODULES[@]}"; do visit "$m"; done
    printf '%s\n' "${order[@]}" > "$dst/modules.order"
    rm -rf "$tmp"
    touch "$dst/.complete"
}

# Cache iscsistart and the one library of its that the host may lack (libopeniscsiusr).
fetch_iscsistart() {
    local dst="$CACHE/open-iscsi"
    [ -f "$dst/.complete" ] && return 0
    log "fetching open-iscsi's iscsistart (once; cached in $dst)"
    local tmp
    tmp=$(scratch)
    (
        cd "$tmp"
        download open-iscsi libopeniscsiusr
        for d in ./*.deb; do dpkg-deb -x "$d" root; done
    )
    rm -rf "$dst" && mkdir -p "$dst/lib"
    cp "$tmp/root/sbin/iscsistart" "$dst/iscsistart"
    cp -a "$tmp"/root/usr/lib/x86_64-linux-gnu/libopeniscsiusr.so* "$dst/lib/"
    rm -rf "$tmp"
    touch "$dst/.complete"
}

write_init() {
    # Single-quoted heredoc: everything below runs in the guest, not here.
    cat > "$1" <<'EOF'
#!/bin/sh
# M2 test image: print a marker, re-login to the iSCSI boot disk, write a marker there, power off.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
S=/dev/ttyS0
say() { echo "$*" > $S; }
fail() { say "M2-DISK-ERROR=$*"; say "M2-BOOT-DONE status=disk-error"; sync; poweroff -f; }
read -r LABEL < /etc/m2-image
for m in $(cat /lib/modules/m2/modules.order); do
    insmod /lib/modules/m2/$m.ko 2>/dev/null
done
I=/sys/firmware/ibft
attr() { cat "$I/$1" 2>/dev/null || echo unknown; }
NODE=$(attr initiator/initiator-name)
TARGET=$(attr target0/target-name)
MAC=$(attr ethernet0/mac)
say "M2-BOOT-MARKER node=$NODE target=$TARGET mac=$MAC image=$LABEL"

[ -d "$I/target0" ] || fail "no iBFT (not booted by iPXE sanboot?)"
# Bring up the NIC iPXE used, with the address iPXE recorded in the iBFT.
IFACE=
for d in /sys/class/net/*; do
    [ "$(cat $d/address)" = "$MAC" ] && IFACE=${d##*/}
done
[ -n "$IFACE" ] || fail "no NIC with MAC $MAC"
ifconfig lo 127.0.0.1 up
ifconfig "$IFACE" "$(attr ethernet0/ip-addr)" netmask "$(attr ethernet0/subnet-mask)" up \
    || fail "ifconfig $IFACE failed"
GW=$(attr ethernet0/gateway)
[ "$GW" = unknown ] || [ "$GW" = 0.0.0.0 ] || route add default gw "$GW" 2>/dev/null
mkdir -p /etc/iscsi /var/lib/iscsi /run/lock/iscsi
timeout 60 iscsistart -b > /tmp/iscsistart.log 2>&1 \
    || { cat /tmp/iscsistart.log > $S; fail "iscsistart -b failed"; }
DISK=
for i in $(seq 1 100); do
    for b in /sys/block/sd*; do
        [ -e "$b" ] && DISK=${b##*/} && break 2
    done
    usleep 100000
done
[ -n "$DISK" ] || fail "no SCSI disk appeared after iSCSI login"
[ -b /dev/$DISK ] || mknod /dev/$DISK b $(tr ':' ' ' < /sys/block/$DISK/dev)
SECTORS=$(cat /sys/block/$DISK/size)
# The marker lives in the first sector of the disk's last MiB (outside the partition).
AT=$((SECTORS - 2048))
readmark() {
    echo 3 > /proc/sys/vm/drop_caches
    dd if=/dev/$DISK bs=512 skip=$AT count=1 2>/dev/null | tr -d '\000' | head -n 1 \
        | grep '^M2-DISK-MARKER ' || echo none
}
BEFORE=$(readmark)
say "M2-DISK-MARKER-BEFORE=$BEFORE"
COUNT=$(echo "$BEFORE" | sed -n 's/.* count=\([0-9]*\).*/\1/p')
COUNT=$(( ${COUNT:-0} + 1 ))
NONCE=$(head -c 8 /dev/urandom | md5sum | cut -c1-12)
LINE="M2-DISK-MARKER count=$COUNT node=$NODE nonce=$NONCE"
echo "$LINE" > /tmp/mark
dd if=/tmp/mark of=/dev/$DISK bs=512 seek=$AT count=1 conv=sync,notrunc 2>/dev/null \
    || fail "write to /dev/$DISK failed"
sync
blockdev --flushbufs /dev/$DISK 2>/dev/null
say "M2-WRITTEN-BY=$LINE"
AFTER=$(readmark)
say "M2-DISK-MARKER-AFTER=$AFTER"
if [ "$AFTER" = "$LINE" ]; then say "M2-BOOT-DONE status=ok"; else say "M2-BOOT-DONE status=readback-mismatch"; fi
sync
poweroff -f
EOF
    chmod 755 "$1"
}

build_initramfs() {
    local ver=$1 out=$2 label=$3
    local root
    root=$(scratch)
    mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,etc,lib/modules/m2,lib64}
    cp "$(command -v busybox)" "$root/bin/busybox"
    file -L "$root/bin/busybox" 2>/dev/null | grep -q 'statically linked' \
        || ldd "$root/bin/busybox" 2>&1 | grep -q 'not a dynamic' \
        || die "busybox is not static: install busybox-static"
    # /init makes the other applet links itself (one process there, not 400 ln here).
    ln -s busybox "$root/bin/sh"
    cp "$CACHE/kernel-$ver"/modules/*.ko "$root/lib/modules/m2/"
    cp "$CACHE/kernel-$ver/modules.order" "$root/lib/modules/m2/modules.order"
    cp "$CACHE/open-iscsi/iscsistart" "$root/sbin/iscsistart"
    # iscsistart is dynamic: copy the libraries it resolves to (host libc etc. are Debian's own).
    local lib
    for lib in $(LD_LIBRARY_PATH="$CACHE/open-iscsi/lib" ldd "$CACHE/open-iscsi/iscsistart" \
                 | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'); do
        mkdir -p "$root$(dirname "${lib/#$CACHE\/open-iscsi\/lib//lib/x86_64-linux-gnu}")"
        cp -L "$lib" "$root${lib/#$CACHE\/open-iscsi\/lib//lib/x86_64-linux-gnu}"
    done
    LD_LIBRARY_PATH="$CACHE/open-iscsi/lib" ldd "$CACHE/open-iscsi/iscsistart" | grep -q 'not found' \
        && die "iscsistart has unresolved libraries"
    echo "$label" > "$root/etc/m2-image"
    write_init "$root/init"
    (cd "$root" && find . -print0 | LC_ALL=C sort -z \
        | cpio --null -o -H newc --reproducible --owner=0:0 --quiet) | gzip -n -6 > "$out"
    rm -rf "$root"
}

cmd_build() {
    local out_dir=${1:-}
    [ -n "$out_dir" ] || die "usage: $0 build OUT_DIR"
    local t0=$SECONDS
    for c in syslinux mcopy mkfs.fat sfdisk busybox cpio gzip; do
        command -v "$c" >/dev/null || die "$c missing: run $0 install"
    done
    local mbr=/usr/lib/syslinux/mbr/mbr.bin
    [ -f $mbr ] || die "$mbr missing: run $0 install"
    SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/m2-boot-image.XXXXXX")
    local ver
    ver=$(kernel_version)
    mkdir -p "$CACHE" "$out_dir"
    # Builds running at once (parallel tests) must not fill the cache at the same time.
    exec 9>"$CACHE/.lock"
    flock 9
    fetch_kernel "$ver"
    fetch_iscsistart
    flock -u 9
    local work
    work=$(scratch)
    local label
    label="m2-test-$( (echo "$ver"; cat "$0") | sha256sum | cut -c1-8)"
    build_initramfs "$ver" "$work/initrd.gz" "$label"
    cat > "$work/syslinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT m2
PROMPT 0
TIMEOUT 0
LABEL m2
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=ttyS0,115200 panic=-1 loglevel=4 m2.image=$label
EOF
    # Sectors: partition 2048 .. total-2048-1; the last MiB stays outside it (marker area).
    local total=$((DISK_MIB * 2048)) start=2048
    local size=$((total - start - 2048))
    mkfs.fat -C -n M2TEST -h $start "$work/part.img" $((size / 2)) >/dev/null
    syslinux --install "$work/part.img"
    mcopy -i "$work/part.img" "$CACHE/kernel-$ver/vmlinuz" ::vmlinuz
    mcopy -i "$work/part.img" "$work/initrd.gz" ::initrd.gz
    mcopy -i "$work/part.img" "$work/syslinux.cfg" ::syslinux.cfg
    truncate -s ${DISK_MIB}M "$work/disk.raw"
    printf 'label: dos\nstart=%d, size=%d, type=c, bootable\n' $start $size \
        | sfdisk --quiet "$work/disk.raw"
    dd if="$work/part.img" of="$work/disk.raw" bs=1M seek=1 conv=notrunc,sparse status=none
    dd if=$mbr of="$work/disk.raw" bs=440 count=1 conv=notrunc status=none
    # Replace atomically so a reader never sees half an image.
    mv -f "$work/disk.raw" "$out_dir/$DISK_NAME"
    log "built $out_dir/$DISK_NAME (kernel $ver, image $label, $((SECONDS - t0)) s)"
    echo "$out_dir/$DISK_NAME"
}

cmd_tftp_files() {
    local dir=${1:-}
    [ -n "$dir" ] || die "usage: $0 tftp-files DIR"
    mkdir -p "$dir"
    local f
    for f in /usr/lib/PXELINUX/pxelinux.0 /usr/lib/syslinux/modules/bios/ldlinux.c32 \
             /usr/lib/ipxe/ipxe.lkrn; do
        [ -f "$f" ] || die "$f missing: run $0 install"
        cp "$f" "$dir/"
    done
    log "copied pxelinux.0, ldlinux.c32, ipxe.lkrn into $dir"
}

cmd_info() {
    local ver
    ver=$(kernel_version)
    echo "KERNEL=$ver"
    echo "CACHE=$CACHE"
}

case "${1:-}" in
    install) cmd_install ;;
    build) shift; cmd_build "$@" ;;
    tftp-files) shift; cmd_tftp_files "$@" ;;
    info) cmd_info ;;
    *) echo "usage: $0 {install|build OUT_DIR|tftp-files DIR|info}" >&2; exit 2 ;;
esac
