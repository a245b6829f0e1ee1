"""Finding a node's address in a dnsmasq lease file."""

import os

from m2.common import exception
from m2.drivers.boot import leases
from m2.tests import base

LEASES = """\
1700000000 52:54:00:12:34:56 10.0.2.15 node1 01:52:54:00:12:34:56
1700000500 52:54:00:12:34:56 10.0.2.16 node1 *
1700000100 52:54:00:00:00:02 10.0.2.17 * *
garbage line
1700000200 20:00:00:00:00:00:00:00:00 10.0.2.99 ib0 *
duid 00:01:00:01:2c:4f:3b:1a:52:54:00:12:34:56
1700000300 12345678 fd00::15 node1 00:01:00:01
0 52:54:00:00:00:03 10.0.2.30 forever *
1700000900 52:54:00:00:00:03 10.0.2.31 later *
"""


class TestLeases(base.TestCase):

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.state_path, 'dnsmasq.leases')
        with open(self.path, 'w') as f:
            f.write(LEASES)

    def test_newest_lease_wins(self):
        self.assertEqual('10.0.2.16', leases.find_ip(self.path, '52:54:00:12:34:56'))

    def test_mac_forms(self):
        self.assertEqual('10.0.2.17', leases.find_ip(self.path, '52-54-00-00-00-02'))
        self.assertEqual('10.0.2.16', leases.find_ip(self.path, '52:54:00:12:34:56'.upper()))

    def test_infinite_lease_is_newest(self):
        self.assertEqual('10.0.2.30', leases.find_ip(self.path, '52:54:00:00:00:03'))

    def test_not_found(self):
        exc = self.assertRaises(exception.LeaseNotFound, leases.find_ip, self.path,
                                '52:54:00:99:99:99', node='node9')
        self.assertIn('node9', str(exc))
        self.assertEqual(404, exc.code)

    def test_missing_file_is_not_found(self):
        self.assertRaises(exception.LeaseNotFound, leases.find_ip,
                          os.path.join(self.state_path, 'nope'), '52:54:00:12:34:56')

    def test_unreadable_file(self):
        self.assertRaises(exception.BackendUnavailable, leases.find_ip,
                          self.state_path, '52:54:00:12:34:56')

    def test_invalid_mac(self):
        self.assertRaises(exception.InvalidMAC, leases.find_ip, self.path, 'nope')
