"""A private Keystone for functional tests, started with tools/keystone.sh.

Starting Keystone costs tens of seconds, so ``shared_keystone()`` starts one
per test process and stops it (by the PID the script recorded) at exit. It
has projects p1 and p2, each with users ``<project>-admin``, ``-member`` and
``-reader`` holding that role, the cloud admin ``admin`` (project admin) and
the service user ``m2`` that auth_token validates tokens with.

``short_lived_tokens()`` serves the same database and keys from a second
process whose tokens expire after a few seconds: a real expired token for the
401 tests. The fixture skips loudly only when Keystone cannot be installed.
"""

import atexit
import os
import shutil
import subprocess
import tempfile
import time

import fixtures
import requests
import testtools
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from m2.tests.functional.components import common

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))))
SCRIPT = os.path.join(REPO, 'tools', 'keystone.sh')
VENV = os.environ.get('M2_KEYSTONE_VENV', os.path.expanduser('~/.cache/m2-keystone-venv'))

PROJECTS = ('p1', 'p2')
ROLES = ('admin', 'member', 'reader')

_SHARED = {}



def _skip(reason):
    raise testtools.TestCase.skipException(
        '*** SKIPPED: %s; run `tools/keystone.sh install` (pip install keystone waitress '
        'into %s) to run the Keystone tests ***' % (reason, VENV))


def ensure_installed():
    """Install Keystone (quick when done); skip loudly if that cannot work.

    Call it outside a fixture's setUp too: fixtures turns a skip raised
    there into a SetupError.
    """
    if 'skip' in _SHARED:
        _skip(_SHARED['skip'])
    install = subprocess.run([SCRIPT, 'install'], capture_output=True, text=True)
    if install.returncode != 0:
        _SHARED['skip'] = ('Keystone is not installed and `tools/keystone.sh install` '
                           'failed: %s' % (install.stderr.strip()[-500:]
                                           or install.stdout.strip()[-500:]))
        _skip(_SHARED['skip'])


class KeystoneFixture(fixtures.Fixture):
    """Run a private Keystone; ``self.url`` (…/v3), ``self.env`` (DIR/env)."""

    def _setUp(self):
        ensure_installed()
        self.dir = tempfile.mkdtemp(prefix='m2-keystone-')
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.addCleanup(self._stop, self.dir)
        start = subprocess.run([SCRIPT, 'start', self.dir], capture_output=True, text=True)
        if start.returncode != 0:
            raise RuntimeError('tools/keystone.sh start failed: %s' % start.stderr[-2000:])
        self.env = common.read_env(os.path.join(self.dir, 'env'))
        self.url = self.env['M2_KEYSTONE_URL']
        self.pid = int(self.env['M2_KEYSTONE_PID'])
        self.project_ids = {'p1': self.env['M2_KEYSTONE_P1_ID'],
                            'p2': self.env['M2_KEYSTONE_P2_ID']}
        self._tokens = {}

    @staticmethod
    def _stop(directory):
        subprocess.run([SCRIPT, 'stop', directory], capture_output=True)

    # Credentials

    def password(self, user):
        if user == 'admin':
            return self.env['M2_KEYSTONE_ADMIN_PASSWORD']
        if user == 'm2':
            return self.env['M2_KEYSTONE_SERVICE_PASSWORD']
        return self.env['M2_KEYSTONE_PASSWORD']

    def secrets(self):
        """Every password of this Keystone (for the no-secrets-in-logs test)."""
        return [v for k, v in self.env.items() if k.endswith('PASSWORD')]

    def auth(self, user, project=None, url=None):
        """keystoneauth password plugin; ``user`` like ``p1-member`` or ``admin``."""
        if project is None:
            project = 'admin' if user == 'admin' else user.split('-')[0]
        return v3.Password(auth_url=url or self.url, username=user,
                           password=self.password(user), project_name=project,
                           user_domain_id='default', project_domain_id='default')

    def token(self, user, project=None):
        """A (cached) project-scoped token of ``user``."""
        key = (user, project)
        if key not in self._tokens:
            sess = ks_session.Session(auth=self.auth(user, project))
            self._tokens[key] = sess.get_token()
        return self._tokens[key]

    def authtoken_conf(self):
        """The ``[keystone_authtoken]`` section for an m2 server."""
        return {'www_authenticate_uri': self.url, 'auth_url': self.url,
                'auth_type': 'password', 'username': 'm2',
                'password': self.password('m2'), 'project_name': 'service',
                'user_domain_id': 'default', 'project_domain_id': 'default',
                # Cached validations would hide nothing we test, but a
                # short cache makes a restarted Keystone's answers visible.
                'token_cache_time': '60'}

    def register_endpoint(self, url, service_type='baremetal-imaging'):
        """Put ``url`` in the catalog as the m2 service (admin token)."""
        headers = {'X-Auth-Token': self.token('admin')}
        services = requests.get(self.url + '/services', headers=headers,
                                params={'type': service_type}, timeout=30).json()['services']
        if services:
            service_id = services[0]['id']
        else:
            service_id = requests.post(
                self.url + '/services', headers=headers, timeout=30,
                json={'service': {'type': service_type, 'name': 'm2'}}).json()['service']['id']
        for interface in ('public', 'internal', 'admin'):
            response = requests.post(self.url + '/endpoints', headers=headers, timeout=30,
                                     json={'endpoint': {'service_id': service_id,
                                                        'interface': interface, 'url': url,
                                                        'region_id': 'RegionOne'}})
            response.raise_for_status()

    # A second server with short-lived tokens

    def short_lived_tokens(self, expiration=3):
        """A fixture: the same Keystone whose tokens expire after ``expiration`` s."""
        return ShortLivedKeystone(self, expiration)


class ShortLivedKeystone(fixtures.Fixture):
    """Serve the shared Keystone's DB and keys with ``[token] expiration`` short.

    Fernet tokens carry their expiry, so a token from here is one the main
    Keystone (the one m2 validates against) sees expire.
    """

    def __init__(self, keystone, expiration):
        super().__init__()
        self.keystone = keystone
        self.expiration = expiration

    def _setUp(self):
        from m2.tests.functional import server as server_mod
        port = server_mod.free_port()
        self.url = 'http://127.0.0.1:%d/v3' % port
        extra = os.path.join(self.keystone.dir, 'short-tokens.conf')
        with open(extra, 'w') as f:
            f.write('[token]\nexpiration = %d\n' % self.expiration)
        env = dict(os.environ, PYTHONWARNINGS='ignore',
                   OS_KEYSTONE_CONFIG_FILES='%s;%s' % (
                       os.path.join(self.keystone.dir, 'keystone.conf'), extra))
        code = ('import sys; port = int(sys.argv[1]); del sys.argv[1:]; import waitress; '
                'from keystone.wsgi.api import application; '
                'waitress.serve(application, host="127.0.0.1", port=port)')
        log = open(os.path.join(self.keystone.dir, 'short-tokens.log'), 'ab')
        self.addCleanup(log.close)
        self.process = subprocess.Popen([os.path.join(VENV, 'bin', 'python'), '-c', code,
                                         str(port)], env=env, stdout=log, stderr=log)
        self.addCleanup(self._stop)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError('the short-lived-token keystone exited')
            try:
                requests.get(self.url, timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise RuntimeError('the short-lived-token keystone did not answer')

    def _stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def token(self, user):
        return ks_session.Session(auth=self.keystone.auth(user, url=self.url)).get_token()


def shared_keystone():
    """The Keystone of this test process, started on first use."""
    if 'keystone' not in _SHARED:
        ensure_installed()
        fixture = KeystoneFixture()
        fixture.setUp()
        atexit.register(fixture.cleanUp)
        _SHARED['keystone'] = fixture
    return _SHARED['keystone']
