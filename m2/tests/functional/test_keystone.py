"""Authentication, policy and tenant isolation against a real Keystone.

One Keystone (tools/keystone.sh) and one m2-server with ``[api]
auth_strategy = keystone`` per test process. Keystone projects p1 and p2 are
mapped to M2 projects p1 and p2; each has users with the admin, member and
reader roles. The matrix calls every API route as each role of p1, on a
resource of p1 (own) and of p2 (other), and checks the exact status: no
cross-project read or write (404 — other projects' resources do not exist
for the caller), public images readable by all but changeable only by their
owner or an admin (403), readers cannot write (403), non-admins cannot reach
the admin routes (403). Missing, invalid and expired tokens get 401.
"""

import glob
import json
import os
import re
import sqlite3
import subprocess
import sys
import time

import fixtures
import requests
import testtools
import yaml
from keystoneauth1 import session as ks_session

from m2.tests.functional import base
from m2.tests.functional import server as server_mod
from m2.tests.functional.components import keystone as ks_mod

BIN = os.path.dirname(sys.executable)
# Keystone's fernet tokens: base64url of a payload starting with 0x80.
FERNET_TOKEN = re.compile(r'gAAAAA[A-Za-z0-9_=-]{40,}')
_WORLD = {}


def world():
    """The shared Keystone, server and resources of this test process."""
    if _WORLD.get('ready'):
        return _WORLD
    if _WORLD.get('failed'):
        raise AssertionError('setting up the Keystone world failed earlier: %s'
                             % _WORLD['failed'])
    try:
        _build_world(_WORLD)
    except testtools.TestCase.skipException:
        raise
    except Exception as exc:
        _WORLD['failed'] = repr(exc)
        raise
    _WORLD['ready'] = True
    return _WORLD


def _build_world(w):
    ks = ks_mod.shared_keystone()
    w['ks'] = ks
    w['server'] = base.shared_server('keystone', conf={
        'api': {'auth_strategy': 'keystone'},
        'keystone_authtoken': ks.authtoken_conf(),
        'iscsi': {'chap': 'true'}})
    admin = Caller(w, 'admin')
    for project in ks_mod.PROJECTS:
        admin.ok('POST', '/v1/projects', {'name': project,
                                           'keystone_project_id': ks.project_ids[project],
                                           'provisioning_network': 'net-' + project}, 201)
        w[project + '-private'] = import_image(w, project, project + '-private')
        w[project + '-public'] = import_image(w, project, project + '-public', public=True)
        w[project + '-node'] = provision(w, project, project + '-node',
                                         w[project + '-private']['id'])


class Caller:
    """Requests with the token of one Keystone user (or a given token)."""

    def __init__(self, w, user=None, token=None):
        self.server = w['server']
        self.token = token if token is not None else (w['ks'].token(user) if user else None)

    def call(self, method, path, body=None, data=None):
        headers = {}
        if self.token is not None:
            headers['X-Auth-Token'] = self.token
        if data is not None:
            headers['Content-Type'] = 'application/octet-stream'
        response = requests.request(method, self.server.url + path, headers=headers,
                                    json=body, data=data, timeout=60)
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        return response.status_code, parsed, response

    def ok(self, method, path, body=None, expect=200, data=None):
        status, parsed, _ = self.call(method, path, body, data=data)
        if status != expect:
            raise AssertionError('%s %s -> %s %s' % (method, path, status, parsed))
        return parsed


def wait_stable(w, kind, ident, timeout=60):
    admin = Caller(w, 'admin')
    deadline = time.monotonic() + timeout
    while True:
        status, body, _ = admin.call('GET', '/v1/%s/%s' % (kind, ident))
        if status == 200 and body.get('progress') is None:
            return body
        if time.monotonic() > deadline:
            raise AssertionError('%s %s never settled: %s %s' % (kind, ident, status, body))
        time.sleep(0.1)


def import_image(w, project, name=None, public=False):
    name = name or base.unique('img')
    directory = os.path.join(w['server'].state_path, 'images')
    os.makedirs(directory, exist_ok=True)
    source = base.unique('src')
    with open(os.path.join(directory, source), 'wb') as f:
        f.write(os.urandom(64 * 1024))
    image = Caller(w, 'admin').ok('POST', '/v1/images', {
        'name': name, 'project': project, 'source': source, 'public': public}, 202)
    image = wait_stable(w, 'images', image['id'])
    assert image['status'] == 'active', image
    return image


def queued_image(w, project, public=False):
    return Caller(w, 'admin').ok('POST', '/v1/images', {
        'name': base.unique('q'), 'project': project, 'public': public}, 201)


def provision(w, project, name, image):
    node = Caller(w, 'admin').ok('POST', '/v1/nodes', {
        'name': name, 'project': project, 'image': image, 'nic': 'eno1'}, 202)
    node = wait_stable(w, 'nodes', node['name'])
    assert node['provision_state'] == 'active', node
    with open(os.path.join(w['server'].state_path, 'leases'), 'a') as f:
        f.write('0 %s 10.0.0.%d %s *\n' % (node['mac'], len(name) % 250 + 2, name))
    return node


def other(project):
    return 'p2' if project == 'p1' else 'p1'


# The matrix. Each case: (name, request(w, project) -> (method, path, body,
# data), expected status by role for 'own' (p1) and 'other' (p2)). The
# caller is always a user of p1. ``project`` is p1 or p2: the project whose
# resource the request touches. Cases that destroy or change their resource
# prepare a fresh one.

def _route(method, path, body=None, data=None):
    return method, path, body, data


def _every(status):
    return {'admin': status, 'member': status, 'reader': status}


def _admin_only(ok):
    return {'admin': ok, 'member': 403, 'reader': 403}


def _read(ok=200):
    """Own: everyone reads; other: only the admin, others get 404."""
    return {'own': _every(ok), 'other': {'admin': ok, 'member': 404, 'reader': 404}}


def _write(ok, other_member=404):
    """Own: admin and member; other: admin; readers never (403)."""
    return {'own': {'admin': ok, 'member': ok, 'reader': 403},
            'other': {'admin': ok, 'member': other_member, 'reader': 403}}


def _both(expect):
    return {'own': expect, 'other': expect}


CASES = [
    # Projects, targets, audit: operators only.
    ('project list', lambda w, p: _route('GET', '/v1/projects'), _both(_admin_only(200))),
    ('project show', lambda w, p: _route('GET', '/v1/projects/' + p), _both(_admin_only(200))),
    ('project create', lambda w, p: _route('POST', '/v1/projects',
                                           {'name': base.unique('proj')}),
     _both(_admin_only(201))),
    ('project delete', lambda w, p: _route(
        'DELETE', '/v1/projects/' + Caller(w, 'admin').ok(
            'POST', '/v1/projects', {'name': base.unique('gone')}, 201)['name']),
     _both(_admin_only(204))),
    ('target list', lambda w, p: _route('GET', '/v1/targets'), _both(_admin_only(200))),
    ('conductor list', lambda w, p: _route('GET', '/v1/conductors'),
     _both(_admin_only(200))),
    ('audit', lambda w, p: _route('GET', '/v1/audit'), _both(_admin_only(200))),
    ('audit run', lambda w, p: _route('POST', '/v1/audit', {'fix': False}),
     _both(_admin_only(200))),
    ('image list all_projects', lambda w, p: _route('GET', '/v1/images?all_projects=true'),
     _both(_admin_only(200))),
    ('node list all_projects', lambda w, p: _route('GET', '/v1/nodes?all_projects=true'),
     _both(_admin_only(200))),
    # Images.
    ('image list', lambda w, p: _route('GET', '/v1/images'), _both(_every(200))),
    ('image list of project', lambda w, p: _route('GET', '/v1/images?project=' + p), _read()),
    ('image show private', lambda w, p: _route('GET', '/v1/images/' + w[p + '-private']['id']),
     _read()),
    ('image show private by name', lambda w, p: _route(
        'GET', '/v1/images/%s-private?project=%s' % (p, p)), _read()),
    ('image show public', lambda w, p: _route('GET', '/v1/images/' + w[p + '-public']['id']),
     _both(_every(200))),
    ('image download private', lambda w, p: _route(
        'GET', '/v1/images/%s/file' % w[p + '-private']['id']), _read()),
    ('image download public', lambda w, p: _route(
        'GET', '/v1/images/%s/file' % w[p + '-public']['id']), _both(_every(200))),
    ('image create', lambda w, p: _route('POST', '/v1/images',
                                         {'name': base.unique('new'), 'project': p}),
     _write(201)),
    ('image import', lambda w, p: _route('POST', '/v1/images', {
        'name': base.unique('imp'), 'project': p,
        'source': _source(w)}), _write(202)),
    ('image upload', lambda w, p: _route(
        'PUT', '/v1/images/%s/file' % queued_image(w, p)['id'], data=b'\0' * 4096),
     _write(202)),
    ('image upload to public', lambda w, p: _route(
        'PUT', '/v1/images/%s/file' % queued_image(w, p, public=True)['id'],
        data=b'\0' * 4096), _write(202, other_member=403)),
    ('image delete private', lambda w, p: _route(
        'DELETE', '/v1/images/' + queued_image(w, p)['id']), _write(202)),
    ('image delete public', lambda w, p: _route(
        'DELETE', '/v1/images/' + queued_image(w, p, public=True)['id']),
     _write(202, other_member=403)),
    ('image export private', lambda w, p: _route(
        'POST', '/v1/images/%s/export' % w[p + '-private']['id'],
        {'storage_name': base.unique('exp')}), _write(202)),
    ('image export public', lambda w, p: _route(
        'POST', '/v1/images/%s/export' % w[p + '-public']['id'],
        {'storage_name': base.unique('exp')}), _write(202, other_member=403)),
    ('image copy private into p1', lambda w, p: _route(
        'POST', '/v1/images/%s/copy' % w[p + '-private']['id'],
        {'project': 'p1', 'name': base.unique('cp')}), _write(202)),
    ('image copy public into p1', lambda w, p: _route(
        'POST', '/v1/images/%s/copy' % w[p + '-public']['id'],
        {'project': 'p1', 'name': base.unique('cp')}), _both(
            {'admin': 202, 'member': 202, 'reader': 403})),
    ('image copy own into p2', lambda w, p: _route(
        'POST', '/v1/images/%s/copy' % w['p1-private']['id'],
        {'project': 'p2', 'name': base.unique('cp')}),
     _both({'admin': 202, 'member': 404, 'reader': 403})),
    ('image move private to the other project', lambda w, p: _route(
        'POST', '/v1/images/%s/move' % queued_image(w, p)['id'], {'project': other(p)}),
     # A move writes into two projects: a member never holds both.
     _both({'admin': 200, 'member': 404, 'reader': 403})),
    ('image move public into p1', lambda w, p: _route(
        'POST', '/v1/images/%s/move' % queued_image(w, p, public=True)['id'],
        {'project': 'p1'}), _write(200, other_member=403)),
    # Nodes.
    ('node list', lambda w, p: _route('GET', '/v1/nodes'), _both(_every(200))),
    ('node list of project', lambda w, p: _route('GET', '/v1/nodes?project=' + p), _read()),
    ('node show', lambda w, p: _route('GET', '/v1/nodes/%s-node' % p), _read()),
    ('node ip', lambda w, p: _route('GET', '/v1/nodes/%s-node/ip' % p), _read()),
    ('node provision', lambda w, p: _route('POST', '/v1/nodes', {
        'name': base.unique('n'), 'project': p, 'image': w[p + '-private']['id'],
        'nic': 'eno1'}), _write(202)),
    ('node provision in p1 from public image', lambda w, p: _route('POST', '/v1/nodes', {
        'name': base.unique('n'), 'project': 'p1', 'image': w[p + '-public']['id'],
        'nic': 'eno1'}), _both({'admin': 202, 'member': 202, 'reader': 403})),
    ('node provision in p1 from private image', lambda w, p: _route('POST', '/v1/nodes', {
        'name': base.unique('n'), 'project': 'p1', 'image': w[p + '-private']['id'],
        'nic': 'eno1'}), _write(202)),
    ('node snapshot', lambda w, p: _route(
        'POST', '/v1/nodes/%s/snapshot' % fresh_node(w, p), {'name': base.unique('snap')}),
     _write(202)),
    ('node deprovision', lambda w, p: _route('DELETE', '/v1/nodes/' + fresh_node(w, p)),
     _write(202)),
]


def _source(w):
    name = base.unique('src')
    with open(os.path.join(w['server'].state_path, 'images', name), 'wb') as f:
        f.write(b'\1' * 4096)
    return name


def _settle(w, method, parsed):
    """Wait for an operation a request started: one at a time, in order."""
    if method == 'GET' or not isinstance(parsed, dict) or 'progress' not in parsed:
        return
    kind = 'nodes' if 'provision_state' in parsed else 'images'
    ident = parsed['name'] if kind == 'nodes' else parsed['id']
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, body, _ = Caller(w, 'admin').call('GET', '/v1/%s/%s' % (kind, ident))
        if status == 404 or (status == 200 and body.get('progress') is None):
            return
        time.sleep(0.1)
    raise AssertionError('%s %s never settled' % (kind, ident))


def fresh_node(w, project):
    return provision(w, project, base.unique('fn'), w[project + '-private']['id'])['name']


class KeystoneTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.w = world()
        self.ks = self.w['ks']
        self.server = self.w['server']

    def _matrix(self, role):
        caller = Caller(self.w, 'p1-' + role)
        failures, count = [], 0
        for name, make, expected in CASES:
            for where, project in (('own', 'p1'), ('other', 'p2')):
                method, path, body, data = make(self.w, project)
                status, parsed, _ = caller.call(method, path, body, data=data)
                count += 1
                _settle(self.w, method, parsed)
                want = expected[where][role]
                if status != want:
                    failures.append('%s (%s, %s): %s %s -> %s, expected %s: %s' % (
                        name, role, where, method, path, status, want, parsed))
        self.assertEqual([], failures, '\n'.join(failures))
        self.assertEqual(len(CASES) * 2, count)

    def test_matrix_admin(self):
        self._matrix('admin')

    def test_matrix_member(self):
        self._matrix('member')

    def test_matrix_reader(self):
        self._matrix('reader')

    def test_listings_are_scoped_to_the_callers_project(self):
        for role in ks_mod.ROLES[1:]:
            caller = Caller(self.w, 'p1-' + role)
            images = {i['id']: i for i in caller.ok('GET', '/v1/images')['images']}
            self.assertIn(self.w['p1-private']['id'], images)
            self.assertIn(self.w['p1-public']['id'], images)
            self.assertIn(self.w['p2-public']['id'], images)
            self.assertNotIn(self.w['p2-private']['id'], images)
            self.assertEqual({'p1'}, {i['project'] for i in images.values()
                                      if not i['public']})
            nodes = caller.ok('GET', '/v1/nodes')['nodes']
            self.assertIn('p1-node', [n['name'] for n in nodes])
            self.assertEqual({'p1'}, {n['project'] for n in nodes})
        # An admin lists its own project by default, every project on request.
        admin = Caller(self.w, 'p1-admin')
        self.assertNotIn(self.w['p2-private']['id'],
                         [i['id'] for i in admin.ok('GET', '/v1/images')['images']])
        self.assertIn(self.w['p2-private']['id'],
                      [i['id'] for i in admin.ok('GET', '/v1/images?all_projects=true')
                       ['images']])

    def test_member_creates_in_its_own_project_by_default(self):
        caller = Caller(self.w, 'p2-member')
        image = caller.ok('POST', '/v1/images', {'name': base.unique('mine')}, 201)
        self.assertEqual('p2', image['project'])

    def test_public_image_of_another_project_is_unchanged_by_refused_writes(self):
        image = queued_image(self.w, 'p2', public=True)
        caller = Caller(self.w, 'p1-member')
        self.assertEqual(403, caller.call('DELETE', '/v1/images/' + image['id'])[0])
        self.assertEqual(403, caller.call('POST', '/v1/images/%s/move' % image['id'],
                                          {'project': 'p1'})[0])
        after = Caller(self.w, 'admin').ok('GET', '/v1/images/' + image['id'])
        self.assertEqual(('p2', 'queued'), (after['project'], after['status']))
        # The owner still may.
        Caller(self.w, 'p2-member').ok('DELETE', '/v1/images/' + image['id'], expect=202)

    def test_forged_identity_headers_are_ignored(self):
        # auth_token strips X-Roles & co. before validating the real token.
        status, _, _ = Caller(self.w, 'p1-reader').call('GET', '/v1/projects')
        self.assertEqual(403, status)
        response = requests.get(self.server.url + '/v1/projects', timeout=30, headers={
            'X-Auth-Token': self.ks.token('p1-reader'), 'X-Roles': 'admin',
            'X-Project-Id': self.ks.project_ids['p2'], 'X-Identity-Status': 'Confirmed'})
        self.assertEqual(403, response.status_code)

    # 401

    def _all_routes(self):
        routes = set()
        for _, make, _ in CASES:
            method, path, body, data = make(self.w, 'p1')
            routes.add((method, path, json.dumps(body), data))
        return sorted(routes, key=str)

    def _assert_401_everywhere(self, token):
        caller = Caller(self.w, token=token)
        bad = []
        for method, path, body, data in self._all_routes():
            status, parsed, response = caller.call(method, path, json.loads(body), data=data)
            if status != 401:
                bad.append('%s %s -> %s' % (method, path, status))
            elif parsed is None or parsed.get('error', {}).get('code') != 401:
                bad.append('%s %s: 401 without the JSON error: %r' % (method, path, parsed))
        self.assertEqual([], bad)

    def test_missing_token_is_401(self):
        self._assert_401_everywhere(None)
        response = requests.get(self.server.url + '/v1/images', timeout=30)
        self.assertIn(self.ks.url, response.headers.get('WWW-Authenticate', ''))

    def test_version_discovery_needs_no_token(self):
        for path in ('/', '/v1'):
            response = requests.get(self.server.url + path, timeout=30)
            self.assertEqual(200, response.status_code, path)
            self.assertIn('v1', response.text)
        response = requests.post(self.server.url + '/v1', timeout=30)
        self.assertEqual(401, response.status_code)

    def test_invalid_token_is_401(self):
        self._assert_401_everywhere('gAAAAABnot-a-real-token')
        self._assert_401_everywhere('')

    def test_expired_token_is_401(self):
        short = self.useFixture(self.ks.short_lived_tokens(expiration=4))
        token = short.token('p1-member')
        caller = Caller(self.w, token=token)
        self.assertEqual(200, caller.call('GET', '/v1/images')[0])
        time.sleep(5)
        status, parsed, _ = caller.call('GET', '/v1/images')
        self.assertEqual(401, status, parsed)
        self._assert_401_everywhere(token)

    def test_revoked_token_is_401(self):
        # With validations cached ([keystone_authtoken] token_cache_time), a
        # revoked token is refused once its cache entry expires; with the
        # cache off, at once. Each needs a token nobody validated before.
        server = self.useFixture(server_mod.ServerFixture(conf={
            'api': {'auth_strategy': 'keystone'},
            'keystone_authtoken': dict(self.ks.authtoken_conf(), token_cache_time='-1')}))
        token = ks_session.Session(auth=self.ks.auth('p1-member')).get_token()

        def images():
            return requests.get(server.url + '/v1/images', headers={'X-Auth-Token': token},
                                timeout=60)

        self.assertEqual(200, images().status_code)
        revoked = requests.delete(self.ks.url + '/auth/tokens', timeout=60, headers={
            'X-Auth-Token': self.ks.token('admin'), 'X-Subject-Token': token})
        self.assertEqual(204, revoked.status_code, revoked.text)
        response = images()
        self.assertEqual(401, response.status_code, response.text)
        self.assertEqual(401, response.json()['error']['code'])

    # The CLI

    def _clouds(self, role='member'):
        directory = self.useFixture(fixtures.TempDir()).path
        clouds = {'clouds': {}}
        for project in ks_mod.PROJECTS:
            user = '%s-%s' % (project, role)
            auth = self.ks.auth(user)
            clouds['clouds'][user] = {
                'auth_type': 'password', 'region_name': 'RegionOne',
                'auth': {'auth_url': auth.auth_url, 'username': user,
                         'password': self.ks.password(user), 'project_name': project,
                         'user_domain_id': 'default', 'project_domain_id': 'default'}}
        path = os.path.join(directory, 'clouds.yaml')
        with open(path, 'w') as f:
            yaml.safe_dump(clouds, f)
        env = {k: v for k, v in os.environ.items() if not k.startswith(('OS_', 'M2_'))}
        env['OS_CLIENT_CONFIG_FILE'] = path
        return env

    def _register_endpoint(self):
        if not self.w.get('endpoint'):
            self.ks.register_endpoint(self.server.url)
            self.w['endpoint'] = True

    def _run(self, argv, env):
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        self.w.setdefault('cli_output', []).append(result.stdout + result.stderr)
        return result

    def test_cli_with_clouds_yaml(self):
        self._register_endpoint()
        env = self._clouds('member')
        result = self._run([os.path.join(BIN, 'm2'), '--os-cloud', 'p1-member', 'image',
                            'list', '-f', 'json'], env)
        self.assertEqual(0, result.returncode, result.stderr)
        ids = {i['ID'] if 'ID' in i else i['id'] for i in json.loads(result.stdout)}
        self.assertIn(self.w['p1-private']['id'], ids)
        self.assertIn(self.w['p2-public']['id'], ids)
        self.assertNotIn(self.w['p2-private']['id'], ids)
        # The other project's private image does not exist for p1.
        result = self._run([os.path.join(BIN, 'm2'), '--os-cloud', 'p1-member', 'image',
                            'show', self.w['p2-private']['id']], env)
        self.assertEqual(1, result.returncode)
        self.assertIn('404', result.stderr)
        # A member may not administer projects.
        result = self._run([os.path.join(BIN, 'm2'), '--os-cloud', 'p2-member', 'project',
                            'list'], env)
        self.assertEqual(1, result.returncode)
        self.assertIn('403', result.stderr)

    def test_cli_with_os_variables_and_endpoint(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(('OS_', 'M2_'))}
        env.update(OS_AUTH_URL=self.ks.url, OS_USERNAME='p2-reader',
                   OS_PASSWORD=self.ks.password('p2-reader'), OS_PROJECT_NAME='p2',
                   OS_USER_DOMAIN_ID='default', OS_PROJECT_DOMAIN_ID='default')
        result = self._run([os.path.join(BIN, 'm2'), '--os-endpoint', self.server.url,
                            'node', 'list', '-f', 'json'], env)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual(['p2-node'], [n['Name'] if 'Name' in n else n['name']
                                       for n in json.loads(result.stdout)])
        result = self._run([os.path.join(BIN, 'm2'), '--os-endpoint', self.server.url,
                            'image', 'delete', '--no-wait', 'p2-private'], env)
        self.assertEqual(1, result.returncode)
        self.assertIn('403', result.stderr)

    def test_openstackclient_plugin(self):
        openstack = os.path.join(BIN, 'openstack')
        if not os.path.exists(openstack):
            self.skipTest('*** SKIPPED: python-openstackclient is not installed in %s; '
                          'pip install python-openstackclient to test `openstack m2` ***'
                          % BIN)
        self._register_endpoint()
        env = self._clouds('reader')
        result = self._run([openstack, '--os-cloud', 'p2-reader', 'm2', 'image', 'list',
                            '-f', 'json'], env)
        self.assertEqual(0, result.returncode, result.stderr)
        ids = {i.get('ID') or i.get('id') for i in json.loads(result.stdout)}
        self.assertIn(self.w['p2-private']['id'], ids)
        self.assertNotIn(self.w['p1-private']['id'], ids)
        result = self._run([openstack, '--os-cloud', 'p2-reader', 'm2', 'project', 'list'],
                           env)
        self.assertNotEqual(0, result.returncode)
        self.assertIn('403', result.stderr)

    # Secrets

    def test_no_secret_in_logs_or_responses(self):
        # Exercise auth failures and CHAP before looking.
        Caller(self.w, token='gAAAAABnot-a-real-token').call('GET', '/v1/images')
        node = fresh_node(self.w, 'p1')
        shown = Caller(self.w, 'p1-member').ok('GET', '/v1/nodes/' + node)
        listed = Caller(self.w, 'admin').ok('GET', '/v1/nodes?all_projects=true')
        targets = Caller(self.w, 'admin').ok('GET', '/v1/targets')
        db = sqlite3.connect(os.path.join(self.server.state_path, 'm2.sqlite'))
        try:
            chap = [row[0] for row in db.execute(
                'SELECT chap_secret FROM nodes WHERE chap_secret IS NOT NULL')]
        finally:
            db.close()
        self.assertTrue(chap, 'CHAP is on: nodes should have secrets')
        self.assertTrue(shown['chap'])
        secrets = dict(('password %d' % i, s) for i, s in enumerate(self.ks.secrets()))
        secrets.update(('token %d' % i, t) for i, t in enumerate(self.ks._tokens.values()))
        secrets.update(('CHAP %d' % i, s) for i, s in enumerate(chap))
        texts = {'node show': json.dumps(shown), 'node list': json.dumps(listed),
                 'targets': json.dumps(targets)}
        for path in glob.glob(os.path.join(self.server.state_path, '*.log*')):
            with open(path, errors='replace') as f:
                texts[path] = f.read()
        # The CLI's debug output logs every request keystoneauth makes.
        env = {k: v for k, v in os.environ.items() if not k.startswith(('OS_', 'M2_'))}
        env.update(OS_AUTH_URL=self.ks.url, OS_USERNAME='p1-member',
                   OS_PASSWORD=self.ks.password('p1-member'), OS_PROJECT_NAME='p1',
                   OS_USER_DOMAIN_ID='default', OS_PROJECT_DOMAIN_ID='default')
        debug = self._run([os.path.join(BIN, 'm2'), '--debug', '-vv', '--os-endpoint',
                           self.server.url, 'node', 'show', node], env)
        self.assertEqual(0, debug.returncode, debug.stderr)
        self.assertIn('X-Auth-Token', debug.stdout + debug.stderr)
        for i, output in enumerate(self.w.get('cli_output', [])):
            texts['cli output %d' % i] = output
        self.assertGreater(len(texts[self.server.log_file]), 1000)
        leaks = ['%s in %s' % (what, where) for what, secret in secrets.items()
                 for where, text in texts.items() if secret and secret in text]
        # Any fernet token (the service user's too, which the test never sees).
        leaks += ['a token in %s' % where for where, text in texts.items()
                  if FERNET_TOKEN.search(text)]
        self.assertEqual([], leaks)
