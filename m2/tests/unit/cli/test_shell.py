"""The ``m2`` application: global options, auth, endpoints and failures."""

import io
import json
import os

import fixtures

from m2.cli import shell
from m2.tests import base as test_base
from m2.tests.unit.cli import base, fakekeystone


class TestShellOffline(base.CLITestCase):

    def test_version(self):
        stdout = self.useFixture(fixtures.MonkeyPatch('sys.stdout', io.StringIO())).new_value
        self.assertRaises(SystemExit, self.m2, '--version')
        self.assertRegex(stdout.getvalue(), r'^m2 \S+\n$')

    def test_help_lists_every_command(self):
        result = self.ok('help')
        for name in ('image list', 'image upload', 'image download', 'image export',
                     'image copy', 'image move', 'image delete', 'snapshot list',
                     'snapshot delete', 'node provision', 'node deprovision',
                     'node snapshot', 'node ip', 'project create', 'target list', 'audit',
                     'complete'):
            self.assertIn('  %s ' % name, result.stdout)

    def test_command_help_comes_from_docstring(self):
        result = self.ok('help', 'node', 'provision')
        self.assertIn('--no-wait', result.stdout)
        self.assertIn('--timeout', result.stdout)
        self.assertIn('Provision a node', result.stdout)
        help_text = ' '.join(self.ok('audit', '--help').stdout.split())
        self.assertIn('Exit status 0 when clean, 1 when something was found', help_text)
        self.assertIn('usage: m2 audit', help_text)

    def test_complete_knows_commands(self):
        result = self.ok('complete')
        self.assertIn('_m2()', result.stdout)
        self.assertIn('provision', result.stdout)

    def test_unknown_command(self):
        result = self.m2('image', 'frobnicate')
        self.assertEqual(2, result.code)

    def test_missing_required_argument(self):
        stderr = self.useFixture(fixtures.MonkeyPatch('sys.stderr', io.StringIO())).new_value
        exc = self.assertRaises(SystemExit, self.m2, 'image', 'import', 'x')
        self.assertEqual(2, exc.code)
        self.assertEqual(2, shell.main(['image', 'import', 'x']))
        self.assertIn('the following arguments are required: --source', stderr.getvalue())

    def test_main_returns_exit_code(self):
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', io.StringIO()))
        self.assertEqual(0, shell.main(['--version']))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', io.StringIO()))
        self.assertEqual(1, shell.main(['image', 'list']))

    def test_no_endpoint_is_one_clear_line(self):
        result = self.fails('image', 'list')
        self.assertIn('set M2_URL or --os-endpoint', result.stderr)
        self.assertEqual(1, len(result.stderr.strip().splitlines()))

    def test_unreachable_endpoint_names_it(self):
        url = 'http://127.0.0.1:%d' % test_base.free_port()
        result = self.fails('--os-endpoint', url, 'image', 'list')
        self.assertEqual(['Cannot reach the m2 API at %s: connection failed '
                          '(is m2-server running there?)' % url],
                         result.stderr.strip().splitlines())
        # The same from M2_URL.
        self.useFixture(fixtures.EnvironmentVariable('M2_URL', url + '/v1/'))
        self.assertIn('at %s:' % url, self.fails('node', 'list').stderr)

    def test_debug_shows_traceback(self):
        url = 'http://127.0.0.1:%d' % test_base.free_port()
        result = self.m2('--debug', '--os-endpoint', url, 'image', 'list')
        self.assertEqual(1, result.code)
        self.assertIn('Traceback', result.stderr)

    def test_unknown_auth_type(self):
        self.assertEqual(2, self.m2('--os-auth-type', 'nosuch', 'image', 'list').code)


class TestShellLive(base.CLITestCase):
    with_server = True

    def test_endpoint_option_overrides_env(self):
        self.useFixture(fixtures.EnvironmentVariable(
            'M2_URL', 'http://127.0.0.1:%d' % test_base.free_port()))
        self.ok('--os-endpoint', self.api.url, 'project', 'create', 'p1')
        self.ok('--os-endpoint', self.api.url + '/v1', 'project', 'show', 'p1')

    def test_keystone_password_auth_finds_endpoint_in_catalog(self):
        keystone = self.useFixture(fakekeystone.FakeKeystone('baremetal-imaging',
                                                              self.api.url))
        self.useFixture(fixtures.EnvironmentVariable('M2_URL'))
        env = {'OS_AUTH_URL': keystone.url + '/v3', 'OS_USERNAME': 'demo',
               'OS_PASSWORD': keystone.password, 'OS_PROJECT_NAME': 'demo',
               'OS_USER_DOMAIN_NAME': 'Default', 'OS_PROJECT_DOMAIN_NAME': 'Default'}
        for key, value in env.items():
            self.useFixture(fixtures.EnvironmentVariable(key, value))
        self.ok('project', 'create', 'p1')
        self.assertEqual(['p1'], [p['Name'] for p in self.ok('project', 'list', '-f',
                                                             'json').json()])
        self.assertEqual('demo', keystone.requests[0]['auth']['identity']['password']
                         ['user']['name'])

        result = self.fails('--os-password', 'wrong', 'project', 'list')
        self.assertIn('Authentication failed', result.stderr)

        # A catalog without m2 is a clear error too.
        result = self.fails('--os-service-type', 'other', 'project', 'list')
        self.assertIn("the catalog has no 'other' service", result.stderr)

    def test_clouds_yaml(self):
        keystone = self.useFixture(fakekeystone.FakeKeystone('baremetal-imaging',
                                                              self.api.url))
        path = os.path.join(self.state_path, 'clouds.yaml')
        with open(path, 'w') as f:
            json.dump({'clouds': {'lab': {
                'auth': {'auth_url': keystone.url + '/v3', 'username': 'demo',
                         'password': keystone.password, 'project_name': 'demo',
                         'user_domain_name': 'Default', 'project_domain_name': 'Default'},
                'region_name': 'RegionOne'}}}, f)
        self.useFixture(fixtures.EnvironmentVariable('OS_CLIENT_CONFIG_FILE', path))
        self.useFixture(fixtures.EnvironmentVariable('M2_URL'))
        self.ok('--os-cloud', 'lab', 'project', 'create', 'p1')
        self.useFixture(fixtures.EnvironmentVariable('OS_CLOUD', 'lab'))
        self.assertEqual(['p1'], [p['Name'] for p in self.ok('project', 'list', '-f',
                                                             'json').json()])
        self.assertEqual(2, len(keystone.requests))
        result = self.fails('--os-cloud', 'nosuch', 'project', 'list')
        self.assertIn('Cannot load the credentials', result.stderr)

    def test_auth_url_on_command_line_selects_password_auth(self):
        keystone = self.useFixture(fakekeystone.FakeKeystone('baremetal-imaging',
                                                              self.api.url))
        self.ok('--os-auth-url', keystone.url + '/v3', '--os-username', 'demo',
                '--os-password', keystone.password, '--os-project-name', 'demo',
                '--os-user-domain-name', 'Default', '--os-project-domain-name', 'Default',
                'project', 'list')
        self.assertEqual(1, len(keystone.requests))
