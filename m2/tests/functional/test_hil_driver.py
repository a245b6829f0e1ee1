"""The ``hil`` isolator driver against the fake HIL over real HTTP."""

import base64
import logging
import os
import subprocess
import sys
import time

import fixtures
import requests
from keystoneauth1 import loading as ks_loading

from m2.common import exception
from m2.drivers.isolator import hil
from m2.tests import base, fake_hil
from m2.tests.functional.components.hil import FakeHILFixture

PASSWORD = 'fake-hil-secret'
CONNECT = '/v0/node/node-1/nic/eth0/connect_network'



class HILDriverTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.hil = self.useFixture(FakeHILFixture(action_delay=0.0))
        self.app = self.hil.app
        self.config(group='hil', url=self.hil.url, username='m2', password=PASSWORD,
                    project='m2-proj', provisioning_network='m2-prov',
                    retry_backoff=0.01, retry_backoff_max=0.05, request_timeout=2.0,
                    action_timeout=5.0, poll_interval=0.1)
        self.driver = hil.HILIsolatorDriver()

    def calls(self, method=None, path=None):
        return [c for c in self.app.calls
                if (method is None or c['method'] == method)
                and (path is None or c['path'] == path)]


class TestNics(HILDriverTestCase):

    def test_mac_by_label_is_normalised(self):
        self.assertEqual('52:54:00:aa:00:01', self.driver.get_nic_mac('node-1', 'eth0'))
        self.assertEqual('52:54:00:aa:01:01', self.driver.get_nic_mac('node-1', 'eth1'))

    def test_default_nic_label_from_config(self):
        self.config(group='hil', nic_label='eth1')
        self.assertEqual('52:54:00:aa:01:01', self.driver.get_nic_mac('node-1', None))

    def test_unknown_node_is_404(self):
        err = self.assertRaises(exception.NodeNotFound, self.driver.get_nic_mac, 'nope', 'eth0')
        self.assertEqual(404, err.code)

    def test_unknown_nic_label_is_404(self):
        err = self.assertRaises(exception.NicNotFound, self.driver.get_nic_mac, 'node-1', 'eth9')
        self.assertEqual(404, err.code)
        self.assertIn('eth9', str(err))
        self.assertRaises(exception.NicNotFound, self.driver.attach_network,
                          'node-1', 'eth9', 'm2-prov')
        self.assertEqual([], self.calls('POST'))


class TestAttachDetach(HILDriverTestCase):

    def test_attach_polls_until_done_without_sleeping_blindly(self):
        self.app.configure(action_delay=0.2)
        start = time.monotonic()
        self.driver.attach_network('node-1', 'eth0', 'm2-prov', 'm2-proj')
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, 0.2)
        # Far below the original's blind 10 s sleep, with room for a loaded machine.
        self.assertLess(elapsed, 3.0)
        self.assertEqual({'vlan/native': 'm2-prov'}, self.app.attachments('node-1', 'eth0'))
        self.assertEqual({'network': 'm2-prov', 'channel': 'vlan/native'},
                         self.calls('POST', CONNECT)[0]['body'])
        polls = [c for c in self.app.calls if c['path'].startswith('/v0/networking_action/')]
        self.assertTrue(2 <= len(polls) <= 8, polls)

    def test_defaults_and_channel_come_from_config(self):
        self.config(group='hil', channel='vlan/1001')
        self.driver.attach_network('node-1', 'eth0', None)
        self.assertEqual({'vlan/1001': 'm2-prov'}, self.app.attachments('node-1', 'eth0'))

    def test_attach_twice_is_success_without_a_second_call(self):
        self.driver.attach_network('node-1', 'eth0', 'm2-prov')
        self.driver.attach_network('node-1', 'eth0', 'm2-prov')
        self.assertEqual(1, len(self.calls('POST', CONNECT)))

    def test_hil_409_already_attached_is_success(self):
        # Attached by someone else between our look and our call.
        self.app.add_fault('POST', CONNECT, status=409, type='BlockedError',
                           msg='The network is already attached to the nic.', times=1)
        self.driver.attach_network('node-1', 'eth0', 'm2-prov')

    def test_one_pending_action_per_nic_is_a_conflict(self):
        self.app.configure(next_action_status='HANG')
        self.config(group='hil', action_timeout=0.2)
        self.assertRaises(exception.BackendUnavailable, self.driver.attach_network,
                          'node-1', 'eth0', 'm2-prov')
        err = self.assertRaises(exception.IsolatorConflict, self.driver.attach_network,
                                'node-1', 'eth0', 'm2-prov')
        self.assertEqual(409, err.code)
        self.assertIn('already active', str(err))
        self.assertEqual(409, self.calls('POST', CONNECT)[-1]['status'])
        err = self.assertRaises(exception.IsolatorConflict, self.driver.detach_network,
                                'node-1', 'eth0', 'm2-prov')
        self.assertIn('already active', str(err))

    def test_detach_then_detach_again_tolerates_not_attached(self):
        self.driver.attach_network('node-1', 'eth0', 'm2-prov')
        self.driver.detach_network('node-1', 'eth0', 'm2-prov')
        self.assertEqual({}, self.app.attachments('node-1', 'eth0'))
        self.driver.detach_network('node-1', 'eth0', 'm2-prov')
        detach = '/v0/node/node-1/nic/eth0/detach_network'
        self.assertEqual([202, 400], [c['status'] for c in self.calls('POST', detach)])

    def test_detach_waits_for_the_action(self):
        self.driver.attach_network('node-1', 'eth0', 'm2-prov')
        self.app.configure(action_delay=0.2)
        self.driver.detach_network('node-1', 'eth0', 'm2-prov')
        self.assertEqual({}, self.app.attachments('node-1', 'eth0'))

    def test_error_action_fails_and_attaches_nothing(self):
        self.app.configure(next_action_status='ERROR', action_delay=0.05)
        err = self.assertRaises(exception.BackendError, self.driver.attach_network,
                                'node-1', 'eth0', 'm2-prov')
        self.assertIn('ERROR', str(err))
        self.assertEqual({}, self.app.attachments('node-1', 'eth0'))

    def test_hanging_action_times_out_as_unavailable(self):
        self.app.configure(action_delay=None)
        self.config(group='hil', action_timeout=0.3)
        start = time.monotonic()
        err = self.assertRaises(exception.BackendUnavailable, self.driver.attach_network,
                                'node-1', 'eth0', 'm2-prov')
        # Bounded (the action hangs forever); generous for a loaded machine.
        self.assertLess(time.monotonic() - start, 5.0)
        self.assertEqual(503, err.code)
        self.assertIn('action_timeout', str(err))
        self.assertIn('PENDING', str(err))

    def test_unknown_network_is_404(self):
        err = self.assertRaises(exception.NetworkNotFound, self.driver.attach_network,
                                'node-1', 'eth0', 'no-such-net')
        self.assertEqual(404, err.code)

    def test_network_of_another_project_is_a_conflict(self):
        err = self.assertRaises(exception.IsolatorConflict, self.driver.attach_network,
                                'node-1', 'eth0', 'other-net')
        self.assertIn('access', str(err))

    def test_node_of_another_hil_project_is_refused_before_any_change(self):
        err = self.assertRaises(exception.IsolatorConflict, self.driver.attach_network,
                                'node-1', 'eth0', 'm2-prov', project='other-proj')
        self.assertIn('other-proj', str(err))
        self.assertEqual([], self.calls('POST'))

    def test_nic_without_switch_port_is_404(self):
        err = self.assertRaises(exception.NotFound, self.driver.attach_network,
                                'node-1', 'eth1', 'm2-prov')
        self.assertIn('switch port', str(err))

    def test_illegal_channels_are_invalid(self):
        self.assertRaises(exception.Invalid, self.driver.attach_network,
                          'node-1', 'eth0', 'm2-prov', channel='trunk')
        self.assertEqual([], self.calls('POST'))
        err = self.assertRaises(exception.Invalid, self.driver.attach_network,
                                'node-1', 'eth0', 'm2-prov', channel='vlan/999')
        self.assertIn('not legal', str(err))


class TestFailures(HILDriverTestCase):

    def test_500_is_retried_then_503(self):
        self.config(group='hil', retries=2)
        self.app.add_fault('POST', CONNECT, status=500, type='SwitchError', msg='switch on fire')
        err = self.assertRaises(exception.BackendUnavailable, self.driver.attach_network,
                                'node-1', 'eth0', 'm2-prov')
        self.assertEqual(503, err.code)
        self.assertEqual(3, len(self.calls('POST', CONNECT)))
        self.assertIn('HIL', str(err))
        self.assertIn(self.hil.url + CONNECT, str(err))
        self.assertIn('switch on fire', str(err))

    def test_one_500_then_success(self):
        self.app.add_fault('GET', '/v0/node/*', status=503, times=1)
        self.assertEqual('52:54:00:aa:00:01', self.driver.get_nic_mac('node-1', 'eth0'))
        self.assertEqual(2, len(self.calls('GET', '/v0/node/node-1')))

    def test_poll_survives_a_500(self):
        self.app.configure(action_delay=0.1)
        self.app.add_fault('GET', '/v0/networking_action/*', status=500, times=1)
        self.driver.attach_network('node-1', 'eth0', 'm2-prov')
        self.assertEqual({'vlan/native': 'm2-prov'}, self.app.attachments('node-1', 'eth0'))

    def test_hanging_request_times_out_then_503(self):
        self.config(group='hil', request_timeout=0.2, retries=1)
        self.app.add_fault('GET', '/v0/node/node-1', delay=10)
        start = time.monotonic()
        err = self.assertRaises(exception.BackendUnavailable, self.driver.get_nic_mac,
                                'node-1', 'eth0')
        # Well under the 10 s the fake stalls, so the timeout did it.
        self.assertLess(time.monotonic() - start, 6.0)
        self.assertIn('request_timeout', str(err))
        self.assertEqual(2, len(self.calls('GET', '/v0/node/node-1')))

    def test_hil_down_is_503_with_a_clear_message(self):
        url = 'http://127.0.0.1:%d' % base.free_port()
        self.config(group='hil', url=url, retries=1)
        err = self.assertRaises(exception.BackendUnavailable, self.driver.attach_network,
                                'node-1', 'eth0', 'm2-prov')
        self.assertEqual(503, err.code)
        message = str(err)
        self.assertIn('HIL is unreachable', message)
        self.assertIn(url + '/v0/node/node-1', message)
        self.assertIn('Connection refused', message)

    def test_wrong_password_is_forbidden(self):
        self.config(group='hil', password='wrong')
        err = self.assertRaises(exception.Forbidden, self.driver.get_nic_mac, 'node-1', 'eth0')
        self.assertEqual(403, err.code)
        self.assertIn('[hil] credentials', str(err))

    def test_no_access_to_the_node_is_forbidden(self):
        seed = fake_hil.demo_seed()
        seed['nodes']['node-1']['project'] = 'other-proj'
        self.app.reset(seed)
        self.assertRaises(exception.Forbidden, self.driver.get_nic_mac, 'node-1', 'eth0')
        self.assertRaises(exception.Forbidden, self.driver.power_cycle, 'node-1')

    def test_unknown_user_answered_404_is_forbidden_not_not_found(self):
        self.app.configure(unknown_user_status=404)
        self.config(group='hil', username='stranger')
        self.assertRaises(exception.Forbidden, self.driver.get_nic_mac, 'node-1', 'eth0')

    def test_control_api_over_http_injects_faults(self):
        resp = requests.post(self.hil.url + '/_fake/faults', timeout=5,
                             json={'method': 'POST', 'path': CONNECT, 'status': 409,
                                   'type': 'BlockedError', 'msg': 'switch busy'})
        self.assertEqual(204, resp.status_code)
        err = self.assertRaises(exception.IsolatorConflict, self.driver.attach_network,
                                'node-1', 'eth0', 'm2-prov')
        self.assertIn('switch busy', str(err))
        calls = requests.get(self.hil.url + '/_fake/calls', timeout=5).json()
        self.assertEqual(409, calls[-1]['status'])


class TestPower(HILDriverTestCase):

    def test_power_cycle_sets_pxe_then_cycles(self):
        self.driver.power_cycle('node-1')
        node = self.app.state()['nodes']['node-1']
        self.assertEqual(('pxe', 'on', 1), (node['bootdev'], node['power'], node['power_cycles']))
        writes = [(c['method'], c['path'], c['body']) for c in self.app.calls
                  if c['method'] != 'GET']
        self.assertEqual([('PUT', '/v0/node/node-1/boot_device', {'bootdev': 'pxe'}),
                          ('POST', '/v0/node/node-1/power_cycle', {'force': False})], writes)

    def test_power_cycle_follows_307_keeping_method_and_body(self):
        self.app.configure(obm_redirect=True)
        self.driver.power_cycle('node-1', boot_device='disk')
        node = self.app.state()['nodes']['node-1']
        self.assertEqual([{'op': 'power_cycle', 'body': {'force': False}}], node['obm_calls'])
        self.assertEqual((1, 'disk'), (node['power_cycles'], node['bootdev']))
        self.assertEqual([307], [c['status'] for c in self.calls('POST',
                                                                 '/v0/node/node-1/power_cycle')])

    def test_the_fake_obm_rejects_a_redirect_that_lost_its_body(self):
        # Proves the test above would fail if the driver dropped the body.
        self.app.configure(obm_redirect=True)
        resp = requests.post(self.hil.url + '/v0/node/node-1/power_cycle', json={'force': False},
                             auth=('m2', PASSWORD), allow_redirects=False, timeout=5)
        self.assertEqual(307, resp.status_code)
        lost = requests.post(resp.headers['Location'], timeout=5)
        self.assertEqual(400, lost.status_code)
        self.assertEqual(0, self.app.state()['nodes']['node-1']['power_cycles'])

    def test_power_off_is_idempotent(self):
        self.driver.power_off('node-1')
        self.driver.power_off('node-1')
        self.assertEqual('off', self.app.state()['nodes']['node-1']['power'])

    def test_power_off_through_redirect(self):
        self.app.configure(obm_redirect=True)
        self.app.nodes['node-1']['power'] = 'on'
        self.driver.power_off('node-1')
        self.assertEqual('off', self.app.state()['nodes']['node-1']['power'])

    def test_node_without_obm_is_a_conflict(self):
        self.app.nodes['node-1']['obm'] = False
        err = self.assertRaises(exception.IsolatorConflict, self.driver.power_cycle, 'node-1')
        self.assertIn('OBM', str(err))

    def test_unknown_node_and_bad_boot_device(self):
        self.assertRaises(exception.NodeNotFound, self.driver.power_cycle, 'nope')
        self.assertRaises(exception.NodeNotFound, self.driver.power_off, 'nope')
        self.assertRaises(exception.Invalid, self.driver.power_cycle, 'node-1', 'floppy')


class TestSecrets(HILDriverTestCase):

    def test_password_never_logged(self):
        logs = self.useFixture(fixtures.FakeLogger(level=logging.DEBUG))
        driver_logs = self.useFixture(fixtures.FakeLogger(name='m2.drivers', level=logging.DEBUG))
        self.app.configure(obm_redirect=True, action_delay=0.05)
        self.app.add_fault('GET', '/v0/node/*', status=500, times=1)
        self.driver.attach_network('node-1', 'eth0', 'm2-prov')
        self.driver.power_cycle('node-1')
        self.driver.detach_network('node-1', 'eth0', 'm2-prov')
        self.config(group='hil', password=PASSWORD + '-wrong')
        self.assertRaises(exception.Forbidden, self.driver.power_off, 'node-1')
        output = logs.output
        self.assertIn('HIL GET', output)  # DEBUG really was captured
        self.assertIn('retry 1', output)
        for secret in (PASSWORD, base64.b64encode(b'm2:' + PASSWORD.encode()).decode()):
            self.assertNotIn(secret, output)
        # The OBM redirect's token stays out of m2's own lines (urllib3's
        # DEBUG request lines do show URLs with their query strings).
        self.assertIn('/obm/node-1/power_cycle', driver_logs.output)
        self.assertNotIn('token=', driver_logs.output)


class TestKeystone(HILDriverTestCase):

    def test_keystone_token_is_sent_as_x_auth_token(self):
        seed = fake_hil.demo_seed()
        seed['tokens'] = {'tok-123': {'projects': ['m2-proj']}}
        self.app.reset(seed)
        section = 'hil_keystone_test'
        ks_loading.register_auth_conf_options(self.cfg.conf, section)
        self.cfg.conf.register_opts(ks_loading.get_auth_plugin_conf_options('admin_token'),
                                    group=section)
        self.config(group=section, auth_type='admin_token', token='tok-123',
                    endpoint=self.hil.url)
        self.config(group='hil', auth_type='keystone', keystone_section=section,
                    username=None, password=None)
        driver = hil.HILIsolatorDriver()
        self.assertEqual('52:54:00:aa:00:01', driver.get_nic_mac('node-1', 'eth0'))
        self.config(group=section, token='tok-bad')
        driver = hil.HILIsolatorDriver()
        self.assertRaises(exception.Forbidden, driver.get_nic_mac, 'node-1', 'eth0')


class TestByHand(base.TestCase):

    def test_module_serves_on_loopback(self):
        port = base.free_port()
        proc = subprocess.Popen(
            [sys.executable, '-m', 'm2.tests.fake_hil', '--port', str(port),
             '--action-delay', '0'],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env=dict(os.environ, PYTHONUNBUFFERED='1'))
        self.addCleanup(proc.wait, 10)
        self.addCleanup(proc.terminate)
        line = proc.stdout.readline()
        self.assertIn('http://127.0.0.1:%d' % port, line)
        resp = requests.get('http://127.0.0.1:%d/v0/node/node-1' % port,
                            auth=('m2', PASSWORD), timeout=5)
        self.assertEqual(200, resp.status_code)
        self.assertEqual('eth0', resp.json()['nics'][0]['label'])
        resp = requests.get('http://127.0.0.1:%d/v0/node/node-1' % port, timeout=5)
        self.assertEqual(401, resp.status_code)
        self.assertEqual('AuthorizationError', resp.json()['type'])
