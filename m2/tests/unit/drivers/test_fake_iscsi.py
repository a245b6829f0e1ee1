"""The fake iSCSI driver keeps a real target driver's contract in a JSON file."""

import json
import multiprocessing
import os
import threading

from m2.common import exception
from m2.drivers.iscsi import fake
from m2.tests import base

IQN = 'iqn.2026-11.org.m2:m2-node1'
INITIATOR = 'iqn.2026-11.org.m2:initiator:node1'
BACKING = {'type': 'file', 'path': '/var/lib/m2/images/m2node1'}
RBD = {'type': 'rbd', 'pool': 'rbd', 'image': 'm2node2', 'conf': '/etc/ceph/ceph.conf',
       'user': 'm2'}


class TestFakeISCSI(base.TestCase):

    def setUp(self):
        super().setUp()
        self.state_file = os.path.join(self.state_path, 'fake-iscsi.json')
        self.config(portals=['192.0.2.1:3260', '192.0.2.2:3261'], group='iscsi')
        self.driver = fake.FakeISCSIDriver()

    def test_create_list_delete(self):
        self.assertEqual([], self.driver.list_targets())
        result = self.driver.create_target(IQN, BACKING, INITIATOR)
        self.assertEqual({'iqn': IQN, 'portals': ['192.0.2.1:3260', '192.0.2.2:3261'],
                          'lun': 1}, result)
        self.assertEqual([{'iqn': IQN, 'backing': BACKING['path'], 'initiators': [INITIATOR],
                           'connections': 0, 'lun': 1, 'readonly': False}],
                         self.driver.list_targets())
        self.driver.delete_target(IQN)
        self.assertEqual([], self.driver.list_targets())
        self.driver.delete_target(IQN)  # already gone is success

    def test_create_idempotent_and_converges(self):
        self.driver.create_target(IQN, BACKING, INITIATOR)
        other = 'iqn.2026-11.org.m2:initiator:other'
        self.driver.create_target(IQN, BACKING, other, chap=('user1', 'secret-123456'))
        [target] = self.driver.list_targets()
        self.assertEqual([other], target['initiators'])

    def test_same_iqn_other_backing_conflicts(self):
        self.driver.create_target(IQN, BACKING, INITIATOR)
        self.assertRaises(exception.TargetExists, self.driver.create_target, IQN,
                          {'type': 'file', 'path': '/elsewhere'}, INITIATOR)
        self.assertEqual(BACKING['path'], self.driver.list_targets()[0]['backing'])

    def test_rbd_backing(self):
        self.driver.create_target(IQN, RBD, INITIATOR, readonly=True)
        [target] = self.driver.list_targets()
        self.assertEqual('rbd/m2node2', target['backing'])
        self.assertTrue(target['readonly'])

    def test_invalid_input(self):
        bad_iqns = ['', 'iqn.bad', 'iqn.2026-11.org.m2:x;reboot', '../../etc', None]
        for iqn in bad_iqns:
            self.assertRaises(exception.InvalidName, self.driver.create_target,
                              iqn, BACKING, INITIATOR)
            self.assertRaises(exception.InvalidName, self.driver.create_target,
                              IQN, BACKING, iqn)
            self.assertRaises(exception.InvalidName, self.driver.delete_target, iqn)
        for backing in ({'type': 'file', 'path': 'relative'}, {'type': 'nbd'}, 'path', {}):
            self.assertRaises(exception.Invalid, self.driver.create_target,
                              IQN, backing, INITIATOR)
        self.assertRaises(exception.InvalidName, self.driver.create_target,
                          IQN, BACKING, INITIATOR, chap=('bad user', 'secret'))
        self.assertRaises(exception.Invalid, self.driver.create_target,
                          IQN, BACKING, INITIATOR, chap=('user', ''))
        self.assertEqual([], self.driver.list_targets())

    def test_state_file_survives_restart_and_hides_secret(self):
        self.driver.create_target(IQN, BACKING, INITIATOR, chap=('user1', 'TopSecret123'))
        again = fake.FakeISCSIDriver()
        self.assertEqual([IQN], [t['iqn'] for t in again.list_targets()])
        with open(self.state_file) as f:
            text = f.read()
        self.assertNotIn('TopSecret123', text)
        self.assertEqual('user1', json.loads(text)['targets'][IQN]['chap_user'])
        self.assertEqual(0o600, os.stat(self.state_file).st_mode & 0o777)

    def test_concurrent_creates_all_recorded(self):
        def worker(i):
            self.driver.create_target('%s-%d' % (IQN, i), BACKING, INITIATOR)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(10, len(fake.FakeISCSIDriver().list_targets()))

    def test_portals_from_config(self):
        self.config(portals=['10.0.0.1:3260'], group='iscsi')
        self.assertEqual(['10.0.0.1:3260'], self.driver.portals())

    def test_concurrent_processes_all_recorded(self):
        # flock, not a thread lock: separate processes must not lose updates.
        ctx = multiprocessing.get_context('fork')

        def worker(i):
            driver = fake.FakeISCSIDriver()
            for j in range(5):
                driver.create_target('%s-%d-%d' % (IQN, i, j), BACKING, INITIATOR)

        procs = [ctx.Process(target=worker, args=(i,)) for i in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        self.assertEqual([0] * 4, [p.exitcode for p in procs])
        self.assertEqual(20, len(self.driver.list_targets()))
