"""Failures injected at every step roll back cleanly; a SIGKILLed conductor recovers.

The server runs the ``faulty`` drivers (real file storage, fake iSCSI and
isolator, ipxe boot, each failing on cue from ``faults.json``).
"""

import json
import os
import time

from m2.tests import faulty
from m2.tests.functional import base

FAULTY = {'drivers': {'storage': 'faulty', 'iscsi': 'faulty', 'isolator': 'faulty',
                      'boot': 'faulty'}}

# The driver call behind each step ("call", calls to let through first).
PROVISION_STEPS = [('storage.clone', 0), ('iscsi.create_target', 0), ('boot.prepare', 0),
                   ('isolator.attach_network', 0), ('isolator.power_cycle', 0)]
DEPROVISION_STEPS = [('isolator.detach_network', 0), ('isolator.power_off', 0),
                     ('boot.clean', 0), ('iscsi.delete_target', 0),
                     ('storage.remove_image', 0)]
COPY_STEPS = [('storage.create_snapshot', 0), ('storage.protect_snapshot', 0),
              ('storage.clone', 0), ('storage.flatten', 0), ('storage.create_snapshot', 1),
              ('storage.protect_snapshot', 1), ('storage.remove_snapshot', 0)]


class FaultTest(base.FunctionalTest):
    server_key = 'faulty'
    server_conf = FAULTY

    def setUp(self):
        super().setUp()
        self.addCleanup(self.inject, [])

    def inject(self, faults):
        faulty.write_faults(self.server.state_path, faults)

    def fail_at(self, call, skip=0):
        self.inject([{'call': call, 'skip': skip, 'times': 1, 'action': 'fail'}])

    def fake_state(self, name):
        """A fake driver's state; before its first use it has none."""
        try:
            with open(os.path.join(self.server.state_path, 'fake-%s.json' % name)) as f:
                return json.load(f)
        except FileNotFoundError:
            return {'targets': {}, 'nodes': {}}

    def attached(self, node_name):
        return [a for a in json.dumps(self.fake_state('isolator')).split('"') if a == node_name]

    def assert_node_resources_gone(self, node):
        self.assertNotIn(node['disk'], self.storage_names())
        self.assertNotIn(node['target']['iqn'], self.fake_state('iscsi')['targets'])
        mac_file = node['mac'].replace(':', '-') + '.ipxe'
        boot_dir = os.path.join(self.server.state_path, 'tftpboot', 'm2')
        self.assertNotIn(mac_file, os.listdir(boot_dir) if os.path.isdir(boot_dir) else [])
        isolator = self.fake_state('isolator')['nodes'].get(node['name'], {})
        for nic in isolator.get('nics', {}).values():
            self.assertEqual({}, nic.get('networks', {}), isolator)


class TestProvisionFaults(FaultTest):
    def test_each_provision_step(self):
        project = self.make_project()
        image, _, _ = self.import_image(project)
        for call, skip in PROVISION_STEPS:
            name = base.unique('fail')
            self.fail_at(call, skip)
            node = self.provision(project, image['id'], name=name)
            self.assertEqual('error', node['provision_state'], (call, node))
            self.assertIn('Injected fault at %s' % call, node['last_error'])
            self.assert_node_resources_gone(node)
            self.assert_audit_clean()
            # A failed node can be deprovisioned (forgotten) ...
            self.api('DELETE', '/v1/nodes/%s' % name, expect=202)
            self.server.wait_for('/v1/nodes/%s' % name, gone=True)
        # ... and a failed provision can simply be retried.
        name = base.unique('retry')
        self.fail_at('iscsi.create_target')
        self.assertEqual('error', self.provision(project, image['id'],
                                                 name=name)['provision_state'])
        self.assertEqual('active', self.provision(project, image['id'],
                                                  name=name)['provision_state'])
        self.api('DELETE', '/v1/nodes/%s' % name, expect=202)
        self.server.wait_for('/v1/nodes/%s' % name, gone=True)
        self.assert_audit_clean()

    def test_each_deprovision_step(self):
        project = self.make_project()
        image, _, _ = self.import_image(project)
        node = self.provision(project, image['id'])
        name = node['name']
        for call, skip in DEPROVISION_STEPS:
            self.fail_at(call, skip)
            self.api('DELETE', '/v1/nodes/%s' % name, expect=202)
            node = self.server.wait_stable('nodes', name)
            # Rolled back to fully provisioned.
            self.assertEqual('active', node['provision_state'], (call, node))
            self.assertIn('Injected fault at %s' % call, node['last_error'])
            self.assertIn(node['disk'], self.storage_names())
            self.assertIn(node['target']['iqn'], self.fake_state('iscsi')['targets'])
            self.assert_audit_clean()
        self.api('DELETE', '/v1/nodes/%s' % name, expect=202)
        self.server.wait_for('/v1/nodes/%s' % name, gone=True)
        self.assert_node_resources_gone(node)
        self.assert_audit_clean()

    def test_each_snapshot_step(self):
        project = self.make_project()
        image, _, _ = self.import_image(project)
        node = self.provision(project, image['id'])
        before = self.storage_names()
        for call, skip in COPY_STEPS:
            self.fail_at(call, skip)
            snap = self.api('POST', '/v1/nodes/%s/snapshot' % node['name'],
                            {'name': base.unique('snap')}, expect=202)
            snap = self.server.wait_stable('images', snap['id'])
            self.assertEqual('error', snap['status'], (call, snap))
            self.assertIn('Injected fault at %s' % call, snap['last_error'])
            self.assertEqual(before, self.storage_names(), call)
            self.assertEqual('active', self.api('GET', '/v1/nodes/%s' % node['name'],
                                                expect=200)['provision_state'])
            self.assert_audit_clean()
            self.api('DELETE', '/v1/images/%s' % snap['id'], expect=202)
            self.server.wait_for('/v1/images/%s' % snap['id'], gone=True)

    def test_each_import_step(self):
        project = self.make_project()
        source, data = self.source_image()
        before = self.storage_names()
        for call, skip in COPY_STEPS:
            self.fail_at(call, skip)
            image = self.api('POST', '/v1/images', {'name': base.unique('imp'),
                                                    'project': project, 'source': source},
                             expect=202)
            image = self.server.wait_stable('images', image['id'])
            self.assertEqual('error', image['status'], (call, image))
            self.assertIn('Injected fault at %s' % call, image['last_error'])
            self.assertEqual(before, self.storage_names(), call)
            with open(self.storage_path(source), 'rb') as f:
                self.assertEqual(data, f.read())
            self.assert_audit_clean()

    def test_delete_image_failure_restores_it(self):
        project = self.make_project()
        image, _, _ = self.import_image(project)
        for call in ('storage.unprotect_snapshot', 'storage.remove_snapshot',
                     'storage.remove_image'):
            self.fail_at(call)
            self.api('DELETE', '/v1/images/%s' % image['id'], expect=202)
            image = self.server.wait_stable('images', image['id'])
            self.assertEqual('active', image['status'], (call, image))
            self.assertIn(image['storage_name'] + '@m2golden', self.storage_names())
            # Still usable: a node can be provisioned from it.
            node = self.provision(project, image['id'])
            self.assertEqual('active', node['provision_state'])
            self.api('DELETE', '/v1/nodes/%s' % node['name'], expect=202)
            self.server.wait_for('/v1/nodes/%s' % node['name'], gone=True)
        self.assert_audit_clean()

    def test_second_operation_on_a_busy_node_is_409(self):
        project = self.make_project()
        image, _, _ = self.import_image(project)
        name = base.unique('busy')
        self.inject([{'call': 'iscsi.create_target', 'action': 'sleep', 'seconds': 3}])
        self.provision(project, image['id'], name=name, wait=False)
        for method, path, body in (('DELETE', '/v1/nodes/%s' % name, None),
                                   ('POST', '/v1/nodes/%s/snapshot' % name, {'name': 's'}),
                                   ('POST', '/v1/nodes', {'name': name, 'project': project,
                                                          'image': image['id'],
                                                          'nic': 'eno1'})):
            reply = self.api(method, path, body, expect=409)
            self.assertIn(name, reply['error']['message'])
        node = self.server.wait_stable('nodes', name)
        self.assertEqual('active', node['provision_state'])


class TestCrashRecovery(base.FunctionalTest):
    """SIGKILL the all-in-one process mid-operation; the restart rolls back."""

    private_server = True
    server_conf = FAULTY
    #: The last_error of an operation rolled back after the crash.
    interrupted = 'interrupted by a conductor restart'

    def _wait_steps(self, path, count, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, body = self.server.request('GET', path)
            if body and body.get('progress') and body['progress']['steps_done'] >= count:
                return body
            time.sleep(0.05)
        self.fail('operation did not reach step %d' % count)

    def _crash_and_restart(self):
        self.server.kill()
        faulty.write_faults(self.server.state_path, [])
        self.server.start()

    def test_kill_during_provision(self):
        project = self.make_project()
        image, _, _ = self.import_image(project)
        faulty.write_faults(self.server.state_path, [
            {'call': 'boot.prepare', 'action': 'sleep', 'seconds': 120}])
        node = self.provision(project, image['id'], name='crashme', wait=False)
        # clone_disk and create_target are done; the conductor is in boot.prepare.
        self._wait_steps('/v1/nodes/crashme', 2)
        self.assertIn(node['disk'], self.storage_names())
        self._crash_and_restart()
        node = self.server.wait_stable('nodes', 'crashme')
        self.assertEqual('error', node['provision_state'])
        self.assertIn(self.interrupted, node['last_error'])
        self.assertNotIn(node['disk'], self.storage_names())
        self.assert_audit_clean()
        # And the node provisions fine afterwards.
        node = self.provision(project, image['id'], name='crashme')
        self.assertEqual('active', node['provision_state'])

    def test_kill_during_snapshot(self):
        project = self.make_project()
        image, _, _ = self.import_image(project)
        self.provision(project, image['id'], name='snapcrash')
        before = self.storage_names()
        faulty.write_faults(self.server.state_path, [
            {'call': 'storage.flatten', 'action': 'sleep', 'seconds': 120}])
        snap = self.api('POST', '/v1/nodes/snapcrash/snapshot', {'name': 's1'}, expect=202)
        self._wait_steps('/v1/images/%s' % snap['id'], 3)
        self._crash_and_restart()
        snap = self.server.wait_stable('images', snap['id'])
        self.assertEqual('error', snap['status'])
        self.assertEqual(before, self.storage_names())
        self.assertEqual('active', self.api('GET', '/v1/nodes/snapcrash',
                                            expect=200)['provision_state'])
        self.assert_audit_clean()


class TestTakeover(TestCrashRecovery):
    """A conductor that dies for good: another host rolls back its work."""

    server_conf = dict(FAULTY, conductor={'heartbeat_interval': '1',
                                          'heartbeat_timeout': '3'})
    interrupted = 'interrupted: conductor test-conductor stopped'

    def _crash_and_restart(self):
        # The same database and storage, served by a conductor of another
        # name: the dead one's rows are not its own to recover at start.
        self.server.kill()
        faulty.write_faults(self.server.state_path, [])
        self.server.write_conf({'DEFAULT': {'host': 'other-conductor'}})
        self.server.start()


class TestPendingRollback(base.FunctionalTest):
    """An undo that fails too leaves its journal; the rollback is finished later."""

    private_server = True
    server_conf = FAULTY

    def test_failed_rollback_is_finished_by_the_audit(self):
        project = self.make_project()
        image, _, _ = self.import_image(project)
        name = base.unique('stuck')
        # power_cycle fails, then the undo of create_target fails too.
        faulty.write_faults(self.server.state_path, [
            {'call': 'isolator.power_cycle', 'times': 1},
            {'call': 'iscsi.delete_target', 'times': 1}])
        self.provision(project, image['id'], name=name, wait=False)
        node = self.server.wait_for('/v1/nodes/%s' % name,
                                    lambda n: n['provision_state'] == 'error')
        self.assertIn('rollback stopped', node['last_error'])
        self.assertEqual('provision', node['progress']['task'])
        # The disk and target are accounted for by the journal, not leaked...
        self.assertIn(node['disk'], self.storage_names())
        report = self.api('GET', '/v1/audit', expect=200)
        self.assertFalse(report['clean'])
        self.assertEqual([], report['storage']['orphans'])
        self.assertEqual(1, len(report['rollbacks_pending']), report)
        # ... and the node is not free until the rollback is finished.
        reply = self.api('POST', '/v1/nodes', {'name': name, 'project': project,
                                               'image': image['id'], 'nic': 'eno1'},
                         expect=409)
        self.assertIn('unfinished rollback', reply['error']['message'])
        report = self.api('POST', '/v1/audit', {'fix': True}, expect=200)
        self.assertTrue(report['clean'], report)
        node = self.api('GET', '/v1/nodes/%s' % name, expect=200)
        self.assertIsNone(node['progress'])
        self.assertEqual('error', node['provision_state'])
        self.assertNotIn(node['disk'], self.storage_names())
        self.assertEqual('active', self.provision(project, image['id'],
                                                  name=name)['provision_state'])
