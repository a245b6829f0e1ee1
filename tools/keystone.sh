#!/bin/bash
# Install, start and stop a private Keystone (the OpenStack identity service)
# for tests and demos, on 127.0.0.1 only, with SQLite and fernet tokens.
#
#   tools/keystone.sh install     pip install keystone and waitress into their
#                                 own virtualenv ($M2_KEYSTONE_VENV, default
#                                 ~/.cache/m2-keystone-venv): Keystone pins
#                                 library versions that must not leak into M2's
#   tools/keystone.sh start DIR   write DIR/keystone.conf, db_sync, fernet and
#                                 credential keys, bootstrap, serve it with
#                                 waitress on a free port, then create
#                                 projects p1 and p2 with users
#                                 <project>-admin/-member/-reader and the
#                                 service user m2 (role service) for
#                                 auth_token; write DIR/env and DIR/keystone.pid
#   tools/keystone.sh stop DIR    stop the recorded PID (TERM, then KILL)
#
# start honours M2_KEYSTONE_PORT and M2_KEYSTONE_TOKEN_EXPIRATION (seconds,
# default 3600). DIR/env (mode 0600: it holds the generated passwords) has
# M2_KEYSTONE_URL, M2_KEYSTONE_PID, M2_KEYSTONE_LOG, M2_KEYSTONE_ADMIN_PASSWORD
# (user admin of project admin, from bootstrap), M2_KEYSTONE_PASSWORD (every
# p1/p2 user), M2_KEYSTONE_SERVICE_PASSWORD (user m2), M2_KEYSTONE_P1_ID and
# M2_KEYSTONE_P2_ID. Passwords are random per start and never printed.
set -euo pipefail
# Keystone imports eventlet, which warns on every command.
export PYTHONWARNINGS=ignore

die() { echo "keystone.sh: $*" >&2; exit 1; }

VENV=${M2_KEYSTONE_VENV:-$HOME/.cache/m2-keystone-venv}
PY=$VENV/bin/python

alive() {
    # kill -0 succeeds on a zombie, and this machine's init may not reap.
    kill -0 "$1" 2>/dev/null || return 1
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != "Z" ]
}

installed() {
    [ -x "$VENV/bin/keystone-manage" ] && "$PY" -c 'import keystone.wsgi, waitress' 2>/dev/null
}

do_install() {
    if installed; then
        echo "keystone.sh: already installed in $VENV"
        return 0
    fi
    [ -x "$PY" ] || python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
    "$VENV/bin/pip" install -q keystone waitress
    installed || die "keystone still not importable in $VENV"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

secret() {
    python3 -c 'import secrets; print(secrets.token_urlsafe(18))'
}

write_conf() {
    local dir="$1" port="$2"
    cat > "$dir/keystone.conf" <<EOF
[DEFAULT]
log_file = $dir/keystone.log
debug = false
[database]
connection = sqlite:///$dir/keystone.db
[token]
provider = fernet
expiration = ${M2_KEYSTONE_TOKEN_EXPIRATION:-3600}
[fernet_tokens]
key_repository = $dir/fernet-keys
[fernet_receipts]
key_repository = $dir/fernet-receipts
[credential]
key_repository = $dir/credential-keys
[identity]
# bcrypt's minimum: the default (12) costs seconds per login on a small test
# machine. Never for production.
password_hash_rounds = 4
[oslo_policy]
# The defaults in code; no policy file to look for.
enforce_new_defaults = true
EOF
    chmod 600 "$dir/keystone.conf"
}

do_start() {
    local dir="$1"
    installed || die "keystone is not installed (run: $0 install)"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ -f "$dir/keystone.pid" ] && alive "$(cat "$dir/keystone.pid")"; then
        grep -v PASSWORD "$dir/env"
        return 0
    fi
    local port=${M2_KEYSTONE_PORT:-$(free_port)}
    local url="http://127.0.0.1:$port/v3"
    local admin_pw user_pw service_pw
    admin_pw=$(secret); user_pw=$(secret); service_pw=$(secret)
    write_conf "$dir" "$port"
    local manage=("$VENV/bin/keystone-manage" --config-file "$dir/keystone.conf")
    # Each keystone-manage run costs seconds of imports: the migrated (empty,
    # secret-free) schema is cached once, and the key repositories are just
    # files of random Fernet keys, the way fernet_setup writes them.
    local template="$VENV/m2-template.db"
    if [ ! -f "$template" ]; then
        "${manage[@]}" db_sync
        cp "$dir/keystone.db" "$template.tmp" && mv "$template.tmp" "$template"
    else
        cp "$template" "$dir/keystone.db"
    fi
    for repo in fernet-keys fernet-receipts credential-keys; do
        install -d -m 700 "$dir/$repo"
        for key in 0 1; do
            (umask 077; python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode(), end="")' \
                > "$dir/$repo/$key")
        done
    done
    # The password goes through the environment, not argv (ps shows argv).
    OS_BOOTSTRAP_PASSWORD=$admin_pw "${manage[@]}" bootstrap \
        --bootstrap-admin-url "$url" --bootstrap-public-url "$url" \
        --bootstrap-internal-url "$url" --bootstrap-region-id RegionOne
    # setsid: the server must not die with the shell that started it.
    # Not waitress-serve: importing keystone.wsgi.api parses sys.argv with
    # oslo.config, which rejects waitress's own arguments.
    OS_KEYSTONE_CONFIG_FILES="$dir/keystone.conf" setsid "$PY" -c '
import sys
host, port = sys.argv[1], int(sys.argv[2])
del sys.argv[1:]
import waitress
from keystone.wsgi.api import application
waitress.serve(application, host=host, port=port, threads=8)
' 127.0.0.1 "$port" >>"$dir/waitress.log" 2>&1 < /dev/null &
    local pid=$!
    echo "$pid" > "$dir/keystone.pid"
    local ok=""
    for _ in $(seq 1 300); do
        alive "$pid" || break
        if python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" \
                "$url" 2>/dev/null; then
            ok=1; break
        fi
        sleep 0.1
    done
    [ -n "$ok" ] || { tail -20 "$dir/waitress.log" >&2; do_stop "$dir"; die "keystone did not answer on $url"; }
    local ids
    ids=$(M2_KS_URL=$url M2_KS_ADMIN_PW=$admin_pw M2_KS_USER_PW=$user_pw \
          M2_KS_SERVICE_PW=$service_pw "$PY" - <<'EOF'
import os

from keystoneauth1 import session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client

url = os.environ['M2_KS_URL']
auth = v3.Password(auth_url=url, username='admin', password=os.environ['M2_KS_ADMIN_PW'],
                   project_name='admin', user_domain_id='default',
                   project_domain_id='default')
ks = client.Client(session=session.Session(auth=auth))
roles = {r.name: r for r in ks.roles.list()}
if 'service' not in roles:
    roles['service'] = ks.roles.create('service')
service = ks.projects.create('service', 'default', description='service users')
m2 = ks.users.create('m2', domain='default', password=os.environ['M2_KS_SERVICE_PW'])
ks.roles.grant(roles['service'], user=m2, project=service)
ids = []
for name in ('p1', 'p2'):
    project = ks.projects.create(name, 'default', description='M2 test project ' + name)
    ids.append(project.id)
    for role in ('admin', 'member', 'reader'):
        user = ks.users.create('%s-%s' % (name, role), domain='default',
                               password=os.environ['M2_KS_USER_PW'],
                               default_project=project)
        ks.roles.grant(roles[role], user=user, project=project)
print(' '.join(ids))
EOF
) || { do_stop "$dir"; die "creating the projects and users failed"; }
    local p1 p2
    read -r p1 p2 <<<"$ids"
    umask 077
    cat > "$dir/env" <<EOF
M2_KEYSTONE_URL=$url
M2_KEYSTONE_PID=$pid
M2_KEYSTONE_LOG=$dir/keystone.log
M2_KEYSTONE_ADMIN_PASSWORD=$admin_pw
M2_KEYSTONE_PASSWORD=$user_pw
M2_KEYSTONE_SERVICE_PASSWORD=$service_pw
M2_KEYSTONE_P1_ID=$p1
M2_KEYSTONE_P2_ID=$p2
EOF
    # Everything but the passwords.
    grep -v PASSWORD "$dir/env"
}

do_stop() {
    local dir="$1"
    [ -f "$dir/keystone.pid" ] || { echo "keystone.sh: no keystone.pid in $dir"; return 0; }
    local pid
    pid=$(cat "$dir/keystone.pid")
    # Only our waitress: the PID must still run keystone's WSGI app.
    if alive "$pid" && grep -q "keystone.wsgi.api" "/proc/$pid/cmdline" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
        alive "$pid" && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/keystone.pid"
    echo "keystone.sh: stopped"
}

case "${1:-}" in
    install) do_install ;;
    start) [ $# -eq 2 ] || die "usage: $0 start DIR"; do_start "$2" ;;
    stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; do_stop "$2" ;;
    *) die "usage: $0 install | start DIR | stop DIR" ;;
esac
