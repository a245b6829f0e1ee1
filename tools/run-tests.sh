#!/usr/bin/env bash
# The whole test suite, as CI runs it: install the real components this
# machine can run (Ceph, tgt, QEMU/iPXE) with apt-get, set up the virtualenv,
# lint, then run the unit and the functional tests with stestr.
#
#   tools/run-tests.sh               everything
#   tools/run-tests.sh unit          unit tests only (no installs)
#   tools/run-tests.sh functional    functional tests only
#   tools/run-tests.sh all REGEX     only tests matching REGEX
set -uo pipefail
cd "$(dirname "$0")/.."
WHAT=${1:-all}
FILTER=${2:-}
LOG_DIR=${M2_TEST_LOGS:-$PWD/.m2-test}
mkdir -p "$LOG_DIR"

loud() { printf '\n\033[1;33m!!! %s\033[0m\n\n' "$*" >&2; }

install_components() {
    if [ "$(id -u)" != 0 ]; then
        loud "not root: cannot apt-get install Ceph, tgt and QEMU; their tests will SKIP"
        return
    fi
    if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ] \
            || [ -n "$(find /var/lib/apt/lists -maxdepth 0 -mmin +1440 2>/dev/null)" ]; then
        apt-get update -qq >"$LOG_DIR/apt-update.log" 2>&1 \
            || loud "apt-get update failed (see $LOG_DIR/apt-update.log)"
    fi
    for component in ceph tgt boot-image keystone; do
        if ! M2_VENV="$VENV" bash "tools/$component.sh" install >"$LOG_DIR/install-$component.log" 2>&1; then
            loud "installing $component FAILED (see $LOG_DIR/install-$component.log): its tests will SKIP"
        fi
    done
}

VENV=$(tools/setup-env.sh | tail -n 1) || { echo "virtualenv setup failed" >&2; exit 1; }
export PATH="$VENV/bin:$PATH"
[ "$WHAT" = unit ] || install_components

status=0
echo "==> ruff check m2"
ruff check m2 || status=1

run_stestr() {
    local name=$1 path=$2 concurrency=$3
    echo "==> $name tests ($path)"
    stestr --test-path "$path" --top-dir ./ run --concurrency "$concurrency" $FILTER \
        2>&1 | tee "$LOG_DIR/$name.log"
    local rc=${PIPESTATUS[0]}
    [ "$rc" = 0 ] || status=1
}
case "$WHAT" in
    unit) run_stestr unit ./m2/tests/unit 2 ;;
    functional) run_stestr functional ./m2/tests/functional 2 ;;
    all) run_stestr unit ./m2/tests/unit 2; run_stestr functional ./m2/tests/functional 2 ;;
    *) echo "usage: $0 [all|unit|functional] [REGEX]" >&2; exit 2 ;;
esac

# One closing line over both runs: "N passed, N failed, N skipped".
python3 - "$LOG_DIR" "$WHAT" <<'PY'
import re, sys, os
passed = failed = skipped = 0
names = {'all': ['unit', 'functional']}.get(sys.argv[2], [sys.argv[2]])
for name in names:
    try:
        text = open(os.path.join(sys.argv[1], name + '.log')).read()
    except OSError:
        continue
    for key, pattern in (('p', r' - Passed: (\d+)'), ('f', r' - Failed: (\d+)'),
                         ('s', r' - Skipped: (\d+)')):
        m = re.findall(pattern, text)
        value = int(m[-1]) if m else 0
        if key == 'p': passed += value
        elif key == 'f': failed += value
        else: skipped += value
    skips = re.findall(r'^(?:\{\d+\} )?(\S+) (?:\[[^\]]*\] )?\.\.\. SKIPPED: (.*)$', text, re.M)
    for test, reason in skips:
        print('SKIPPED %s: %s' % (test, reason))
print('%d passed, %d failed, %d skipped' % (passed, failed, skipped))
PY
exit $status
