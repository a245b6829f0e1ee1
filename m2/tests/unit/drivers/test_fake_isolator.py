"""The fake isolator: deterministic nodes, idempotent attachments, power records."""

import json
import os
import re

from m2.common import exception
from m2.drivers.isolator import fake
from m2.tests import base


class TestFakeIsolator(base.TestCase):

    def setUp(self):
        super().setUp()
        self.state_file = os.path.join(self.state_path, 'fake-isolator.json')
        self.driver = fake.FakeIsolatorDriver()

    def test_unknown_node_created_with_deterministic_mac(self):
        mac = self.driver.get_nic_mac('node1', 'eno1')
        self.assertRegex(mac, r'^52:54:00(:[0-9a-f]{2}){3}$')
        self.assertEqual(mac, self.driver.get_nic_mac('node1', 'eno1'))
        self.assertEqual(mac, fake.derive_mac('node1', 'eno1'))
        self.assertNotEqual(mac, self.driver.get_nic_mac('node2', 'eno1'))
        self.assertNotEqual(mac, self.driver.get_nic_mac('node1', 'eno2'))
        # Locally administered, unicast.
        first = int(mac.split(':')[0], 16)
        self.assertEqual(2, first & 3)

    def test_attach_detach_idempotent(self):
        self.driver.attach_network('node1', 'eno1', 'prov-net')
        self.driver.attach_network('node1', 'eno1', 'prov-net')
        self.assertEqual([{'node': 'node1', 'nic': 'eno1', 'network': 'prov-net',
                           'channel': 'vlan/native'}], self.driver.attachments())
        self.driver.detach_network('node1', 'eno1', 'prov-net')
        self.driver.detach_network('node1', 'eno1', 'prov-net')
        self.driver.detach_network('ghost', 'eno1', 'prov-net')
        self.assertEqual([], self.driver.attachments())
        self.assertIsNone(self.driver.node_state('ghost'))

    def test_channel_conflict(self):
        self.driver.attach_network('node1', 'eno1', 'net-a')
        self.assertRaises(exception.IsolatorConflict, self.driver.attach_network,
                          'node1', 'eno1', 'net-b')
        self.driver.attach_network('node1', 'eno1', 'net-b', channel='vlan/100')
        self.assertEqual(['net-b', 'net-a'],
                         [a['network'] for a in self.driver.attachments()])

    def test_detach_other_network_leaves_attachment(self):
        self.driver.attach_network('node1', 'eno1', 'net-a')
        self.driver.detach_network('node1', 'eno1', 'net-b')
        self.assertEqual(['net-a'], [a['network'] for a in self.driver.attachments()])

    def test_power(self):
        self.driver.power_cycle('node1')
        self.driver.power_cycle('node1', boot_device='disk')
        state = self.driver.node_state('node1')
        self.assertEqual(('on', 'disk', 2),
                         (state['power'], state['boot_device'], state['power_cycles']))
        self.driver.power_off('node1')
        self.driver.power_off('node1')
        self.assertEqual('off', self.driver.node_state('node1')['power'])
        self.assertRaises(exception.Invalid, self.driver.power_cycle, 'node1', 'floppy; rm')

    def test_invalid_names(self):
        for node in ('../x', '', 'a/b', None):
            self.assertRaises(exception.InvalidName, self.driver.get_nic_mac, node, 'eno1')
            self.assertRaises(exception.InvalidName, self.driver.power_off, node)
        self.assertRaises(exception.InvalidName, self.driver.get_nic_mac, 'node1', '../eno1')
        self.assertRaises(exception.InvalidName, self.driver.attach_network,
                          'node1', 'eno1', 'net a')
        self.assertRaises(exception.InvalidName, self.driver.attach_network,
                          'node1', 'eno1', 'net', channel='vlan 1')

    def test_state_survives_restart_and_is_readable(self):
        mac = self.driver.get_nic_mac('node1', 'eno1')
        self.driver.attach_network('node1', 'eno1', 'prov-net')
        self.driver.power_cycle('node1')
        again = fake.FakeIsolatorDriver()
        self.assertEqual(mac, again.get_nic_mac('node1', 'eno1'))
        self.assertEqual(1, len(again.attachments()))
        with open(self.state_file) as f:
            state = json.load(f)
        self.assertEqual({'mac': mac, 'networks': {'vlan/native': 'prov-net'}},
                         state['nodes']['node1']['nics']['eno1'])
        self.assertEqual(1, state['nodes']['node1']['power_cycles'])
        # Written atomically: no temp files left next to it.
        self.assertEqual([], [f for f in os.listdir(self.state_path) if re.match(r'\.tmp-', f)])
