#!/usr/bin/env bash
# Create (or refresh) the project's virtualenv in .venv with m2 and its test
# requirements installed. Idempotent; prints the venv path on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${M2_VENV:-$PWD/.venv}
if [ ! -x "$VENV/bin/python" ]; then
    echo "Creating virtualenv $VENV"
    "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.m2-installed"
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ] \
        || [ test-requirements.txt -nt "$stamp" ]; then
    echo "Installing m2 and its requirements into $VENV"
    "$VENV/bin/pip" install -q --upgrade pip 2>&1 | grep -v WARNING || true
    "$VENV/bin/pip" install -q -r requirements.txt -r test-requirements.txt 2>&1 \
        | grep -v -e WARNING -e 'is ignored' || true
    "$VENV/bin/pip" install -q -e . 2>&1 | grep -v -e WARNING -e 'is ignored' || true
    "$VENV/bin/python" -c 'import m2.conductor.manager, m2.cli.shell' 
    touch "$stamp"
fi
echo "$VENV"
