"""Provision, snapshot and deprovision through m2-server with the ``hil`` isolator.

The fake HIL runs in this test process (m2.tests.fake_hil); m2-server is a
real subprocess talking to it over HTTP.
"""

from m2.tests.functional import base
from m2.tests.functional import server as server_mod
from m2.tests.functional.components.hil import FakeHILFixture

CONNECT = '/v0/node/node-1/nic/eth0/connect_network'


class HILTest(base.FunctionalTest):
    private_server = True

    def setUp(self):
        self.hil = self.useFixture(FakeHILFixture(action_delay=0.1))
        self.server_conf = {
            'drivers': {'isolator': 'hil'},
            'hil': {'url': self.hil.url, 'username': 'm2', 'password': 'fake-hil-secret',
                    'retries': 1, 'retry_backoff': 0.05, 'retry_backoff_max': 0.1,
                    'request_timeout': 2, 'action_timeout': 2, 'poll_interval': 0.1}}
        super().setUp()
        self.project = base.unique('proj')
        self.api('POST', '/v1/projects', {'name': self.project, 'isolator_project': 'm2-proj',
                                          'provisioning_network': 'm2-prov'}, expect=201)
        self.image, _, _ = self.import_image(self.project)

    def attachments(self, node='node-1', nic='eth0'):
        return self.hil.app.attachments(node, nic)

    def calls(self):
        return [(c['method'], c['path']) for c in self.hil.app.calls]

    def provision_node_1(self):
        return self.api('POST', '/v1/nodes', {'name': 'node-1', 'project': self.project,
                                              'image': self.image['id'], 'nic': 'eth0'},
                        expect=202)

    def test_provision_snapshot_deprovision(self):
        self.provision_node_1()
        node = self.server.wait_stable('nodes', 'node-1')
        self.assertEqual('active', node['provision_state'], node)
        # The MAC came from HIL's show node, by NIC label.
        self.assertEqual('52:54:00:aa:00:01', node['mac'])
        self.assertEqual({'vlan/native': 'm2-prov'}, self.attachments())
        state = self.hil.app.state()['nodes']['node-1']
        self.assertEqual(('pxe', 1), (state['bootdev'], state['power_cycles']))
        calls = self.calls()
        self.assertIn(('POST', CONNECT), calls)
        # Boot device before the power cycle, and the action polled to DONE.
        self.assertLess(calls.index(('PUT', '/v0/node/node-1/boot_device')),
                        calls.index(('POST', '/v0/node/node-1/power_cycle')))
        self.assertTrue(any(p.startswith('/v0/networking_action/') for _, p in calls))

        snap = self.api('POST', '/v1/nodes/node-1/snapshot', {'name': 's1'}, expect=202)
        self.assertEqual('active', self.server.wait_stable('images', snap['id'])['status'])
        self.assertEqual({'vlan/native': 'm2-prov'}, self.attachments())

        self.api('DELETE', '/v1/nodes/node-1', expect=202)
        self.server.wait_for('/v1/nodes/node-1', gone=True)
        self.assertEqual({}, self.attachments())
        calls = self.calls()
        detach = calls.index(('POST', '/v0/node/node-1/nic/eth0/detach_network'))
        self.assertLess(detach, calls.index(('POST', '/v0/node/node-1/power_off')))
        self.assert_audit_clean()

    def assert_rolled_back(self, fragment):
        node = self.server.wait_stable('nodes', 'node-1')
        self.assertEqual('error', node['provision_state'], node)
        self.assertIn(fragment, node['last_error'])
        self.assertEqual({}, self.attachments())
        self.assertNotIn(node['disk'], self.storage_names())
        return node

    def test_action_error_rolls_back(self):
        self.hil.app.configure(next_action_status='ERROR')
        self.provision_node_1()
        self.assert_rolled_back('ERROR')
        self.assert_audit_clean()

    def test_conflict_rolls_back(self):
        self.hil.app.add_fault('POST', CONNECT, status=409, type='BlockedError',
                               msg='A networking operation is already pending', times=1)
        self.provision_node_1()
        self.assert_rolled_back('already pending')
        self.assert_audit_clean()

    def test_server_error_rolls_back(self):
        self.hil.app.add_fault('POST', CONNECT, status=500, type='SwitchError',
                               msg='switch on fire', times=5)
        self.provision_node_1()
        self.assert_rolled_back('HIL')
        self.assert_audit_clean()

    def test_power_cycle_failure_detaches(self):
        self.hil.app.add_fault('POST', '/v0/node/node-1/power_cycle', status=409,
                               type='OBMError', msg='OBM not enabled', times=1)
        self.provision_node_1()
        self.assert_rolled_back('OBM')
        self.assertIn(('POST', '/v0/node/node-1/nic/eth0/detach_network'), self.calls())
        self.assert_audit_clean()

    def test_action_timeout_leaves_node_detached(self):
        self.hil.app.configure(next_action_status='HANG')
        self.provision_node_1()
        node = self.server.wait_for('/v1/nodes/node-1',
                                    lambda n: n['provision_state'] == 'error', timeout=30)
        self.assertIn('HIL', node['last_error'])
        # The connect never happened, so the node is not on the tenant network.
        self.assertEqual({}, self.attachments())

    def test_unknown_node_or_nic_is_404(self):
        reply = self.api('POST', '/v1/nodes', {'name': 'no-such-node', 'project': self.project,
                                               'image': self.image['id'], 'nic': 'eth0'},
                         expect=404)
        self.assertIn('no-such-node', reply['error']['message'])
        reply = self.api('POST', '/v1/nodes', {'name': 'node-1', 'project': self.project,
                                               'image': self.image['id'], 'nic': 'eth9'},
                         expect=404)
        self.assertIn('eth9', reply['error']['message'])
        self.api('GET', '/v1/nodes/node-1', expect=404)


class HILUnreachableTest(base.FunctionalTest):
    private_server = True
    server_conf = {'drivers': {'isolator': 'hil'},
                   'hil': {'url': 'http://127.0.0.1:%d' % server_mod.free_port(),
                           'username': 'm2', 'password': 'x', 'retries': 1,
                           'retry_backoff': 0.05, 'retry_backoff_max': 0.1,
                           'request_timeout': 2}}

    def test_unreachable_is_503(self):
        project = self.make_project()
        image, _, _ = self.import_image(project)
        reply = self.api('POST', '/v1/nodes', {'name': 'node-1', 'project': project,
                                               'image': image['id'], 'nic': 'eth0'},
                         expect=503)
        self.assertIn('HIL', reply['error']['message'])
        self.assertIn('unreachable', reply['error']['message'])
        self.api('GET', '/v1/nodes/node-1', expect=404)


class HILConfigDefaultsTest(base.FunctionalTest):
    """A project that names no HIL project or network uses [hil]'s defaults."""

    private_server = True

    def setUp(self):
        self.hil = self.useFixture(FakeHILFixture(action_delay=0.05))
        self.server_conf = {
            'drivers': {'isolator': 'hil'},
            'hil': {'url': self.hil.url, 'username': 'm2', 'password': 'fake-hil-secret',
                    'project': 'm2-proj', 'provisioning_network': 'm2-prov',
                    'action_timeout': 5, 'poll_interval': 0.1}}
        super().setUp()

    def test_defaults_from_config(self):
        project = base.unique('bare')
        body = self.api('POST', '/v1/projects', {'name': project}, expect=201)
        self.assertIsNone(body['isolator_project'])
        image, _, _ = self.import_image(project)
        node = self.provision(project, image['id'], name='node-2', nic='eth0')
        self.assertEqual('active', node['provision_state'], node)
        self.assertEqual({'vlan/native': 'm2-prov'}, self.hil.app.attachments('node-2', 'eth0'))
        self.api('DELETE', '/v1/nodes/node-2', expect=202)
        self.server.wait_for('/v1/nodes/node-2', gone=True)
        self.assertEqual({}, self.hil.app.attachments('node-2', 'eth0'))
