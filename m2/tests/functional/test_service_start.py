"""Service start-up: bad driver choices and an unmigrated schema stop it clearly."""

import json
import os
import subprocess

import fixtures
import testtools

from m2.tests.functional import server as server_mod


class TestServiceStart(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.state = self.useFixture(fixtures.TempDir()).path
        self.conf = os.path.join(self.state, 'm2.conf')

    def write(self, extra=''):
        with open(self.conf, 'w') as f:
            f.write('[DEFAULT]\nstate_path = %s\n[api]\nport = %d\n%s' % (
                self.state, server_mod.free_port(), extra))

    def run_cmd(self, name, *args, timeout=60):
        return subprocess.run([os.path.join(server_mod.BIN, name), '--config-file', self.conf]
                              + list(args), capture_output=True, text=True, timeout=timeout)

    def test_dbsync_version_and_upgrade(self):
        self.write()
        self.assertIn('empty', self.run_cmd('m2-dbsync', 'version').stdout)
        result = self.run_cmd('m2-dbsync', 'upgrade')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('0002_conductors', self.run_cmd('m2-dbsync', 'version').stdout)

    def test_unmigrated_database_refuses_to_start(self):
        self.write()
        result = self.run_cmd('m2-server')
        self.assertNotEqual(0, result.returncode)
        self.assertIn('m2-dbsync upgrade', result.stderr)

    def test_unknown_driver_names_namespace_and_choices(self):
        self.write('[drivers]\nstorage = no-such-driver\n')
        self.run_cmd('m2-dbsync', 'upgrade')
        result = self.run_cmd('m2-server')
        self.assertNotEqual(0, result.returncode)
        self.assertIn("No storage driver named 'no-such-driver'", result.stderr)
        self.assertIn('m2.drivers.storage', result.stderr)
        self.assertIn('file', result.stderr)
        self.assertNotIn('Traceback', result.stderr)

    def status_check(self):
        """Run ``m2-status upgrade check``; return (exit code, {check: (code, details)})."""
        result = self.run_cmd('m2-status', 'upgrade', 'check', '--json')
        self.assertNotIn('Traceback', result.stderr)
        report = json.loads(result.stdout)
        return result.returncode, {c['check']: (c['result'], c['details'])
                                   for c in report['checks']}

    def test_status_check_passes_on_a_ready_deployment(self):
        self.write()
        self.run_cmd('m2-dbsync', 'upgrade')
        rc, checks = self.status_check()
        self.assertEqual(0, rc, checks)
        self.assertEqual((0, 'The database is at revision 0002_conductors.'),
                         checks['Database schema'])
        self.assertEqual((0, 'Loaded storage=file, iscsi=fake, isolator=fake, boot=ipxe.'),
                         checks['Configured drivers'])

    def test_status_check_fails_on_unmigrated_schema_and_unknown_driver(self):
        self.write('[drivers]\nisolator = no-such-isolator\n')
        rc, checks = self.status_check()
        self.assertEqual(2, rc, checks)
        code, details = checks['Database schema']
        self.assertEqual(2, code)
        self.assertIn('run "m2-dbsync upgrade"', details)
        code, details = checks['Configured drivers']
        self.assertEqual(2, code)
        self.assertIn("No isolator driver named 'no-such-isolator' in namespace "
                      "m2.drivers.isolator; installed: fake, faulty, hil", details)

    def test_status_check_warns_of_noauth_beyond_loopback(self):
        self.write('[api]\nhost_ip = 0.0.0.0\n')
        self.run_cmd('m2-dbsync', 'upgrade')
        rc, checks = self.status_check()
        self.assertEqual(1, rc, checks)
        code, details = checks['Unauthenticated API']
        self.assertEqual(1, code)
        self.assertIn('anyone who reaches that address is an admin', details)
