#!/usr/bin/env bash
# The embedded default, end to end: build the environment, migrate, start
# m2-server (SQLite, file storage, fake iSCSI and isolator, real iPXE boot
# files) and run the BMI user guide's acceptance workflow through the `m2` CLI.
#
#   tools/demo.sh           run the workflow, then stop the server
#   tools/demo.sh --keep    leave the server running afterwards
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1
PORT=${M2_DEMO_PORT:-6385}
STATE=${M2_DEMO_STATE:-$PWD/.m2-demo}
VENV=$(tools/setup-env.sh | tail -n 1)
export PATH="$VENV/bin:$PATH"
export M2_URL="http://127.0.0.1:$PORT"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

if curl -fsS "$M2_URL/" >/dev/null 2>&1; then
    echo "Something already answers on $M2_URL; set M2_DEMO_PORT to another port." >&2
    exit 1
fi
rm -rf "$STATE"
mkdir -p "$STATE/images"
cat > "$STATE/m2.conf" <<CONF
[DEFAULT]
state_path = $STATE
log_file = $STATE/m2-server.log
[api]
port = $PORT
CONF

step "Migrate the database (SQLite in $STATE)"
run m2-dbsync --config-file "$STATE/m2.conf" upgrade

step "Start m2-server: API and conductor in one process"
m2-server --config-file "$STATE/m2.conf" &
SERVER=$!
cleanup() { if [ "$KEEP" = 0 ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi; }
trap cleanup EXIT
for _ in $(seq 1 100); do curl -fsS "$M2_URL/" >/dev/null 2>&1 && break; sleep 0.1; done
echo "m2-server (pid $SERVER) answers on $M2_URL"

step "Create an image in storage (the file driver's pool is $STATE/images)"
# A 64 MiB sparse disk with a recognisable first sector, like 'rbd create' + 'rbd import'.
truncate -s 64M "$STATE/images/bmi-test-image"
printf 'M2 DEMO GOLDEN IMAGE' | dd of="$STATE/images/bmi-test-image" conv=notrunc status=none
ls -ls "$STATE/images"

step "Create a project mapped to its provisioning network"
run m2 project create bmi_infra --provisioning-network bmi_network

step "Import the storage image as a golden image"
run m2 image import bmi-test-image --source bmi-test-image --project bmi_infra

step "Provision a node from it"
run m2 node provision bmi_node --image bmi-test-image --nic bmi_port --project bmi_infra
echo "Its iPXE boot script:"
cat "$STATE"/tftpboot/m2/*.ipxe

step "Snapshot the node into a new image"
run m2 node snapshot bmi_node bmi-test-image-snapshot

step "List images, snapshots, nodes and targets"
run m2 image list
run m2 snapshot list
run m2 node list
run m2 target list

step "Confirm the snapshot exists in storage"
snap_storage=$(m2 image show bmi-test-image-snapshot -f value -c storage_name)
run ls -ls "$STATE/images/$snap_storage"

step "Remove the snapshot"
run m2 snapshot delete bmi-test-image-snapshot

step "Deprovision the node"
run m2 node deprovision bmi_node

step "Remove the image"
run m2 image delete bmi-test-image

step "Confirm storage is clean"
run m2 audit
run ls -la "$STATE/images"
leftover=$(ls "$STATE/images" | grep -v '^bmi-test-image$' || true)
if [ -n "$leftover" ]; then echo "Storage is not clean: $leftover" >&2; exit 1; fi
echo
echo "The acceptance workflow passed."
if [ "$KEEP" = 1 ]; then
    echo "m2-server keeps running on $M2_URL (pid $SERVER); stop it with: kill $SERVER"
fi
