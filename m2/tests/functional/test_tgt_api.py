"""Nodes provisioned through a real m2-server, exported by a real tgtd.

Each test runs its own tgtd (tools/tgt.sh, a private control socket and a
portal on 127.0.0.1) and its own ``m2-server`` with ``[drivers] iscsi =
tgt``. The initiator is QEMU's user-space iSCSI client (libiscsi) through
``qemu-img``/``qemu-io`` with ``--image-opts`` so that each call presents the
initiator name m2 gave the node. A tgtd "restart" is a SIGKILL then an empty
tgtd on the same control socket and portal, as after a crash or reboot.
"""

import os
import shutil
import subprocess
import time
import uuid

import fixtures

from m2.drivers.iscsi import tgtadm
from m2.tests.functional import base
from m2.tests.functional.components import ceph as ceph_component
from m2.tests.functional.components import tgt as tgt_component

MiB = 1024 * 1024


class TgtApiTest(base.FunctionalTest):
    """A private tgtd and a private m2-server using it."""

    private_server = True
    extra_conf = {}

    def setUp(self):
        # Not base.FunctionalTest.setUp first: the server's config needs the
        # tgtd's control socket and portal, known once tgtd runs.
        for tool in ('qemu-img', 'qemu-io'):
            if not shutil.which(tool):
                self.skipTest('*** SKIPPED: %s is missing; run `tools/tgt.sh install` '
                              '(qemu-utils qemu-block-extra) ***' % tool)
        self.tgtd = tgt_component.TgtdFixture()
        # skipException from the fixture must reach testtools as a skip.
        testtools_setup = super(base.FunctionalTest, self).setUp
        testtools_setup()
        self.useFixture(self.tgtd)
        self.tmp = self.useFixture(fixtures.TempDir()).path
        conf = {'drivers': {'iscsi': 'tgt'},
                'tgt': {'control_port': self.tgtd.control_port},
                'iscsi': {'portals': self.tgtd.portal}}
        for section, values in self.extra_conf.items():
            conf.setdefault(section, {}).update(values)
        self.server_conf = conf
        self.server = self.useFixture(base.server_mod.ServerFixture(conf=self.server_conf))

    # -- tgtd -------------------------------------------------------------

    def targets(self):
        """tgtd's own view: ``{iqn: parsed target}`` from tgtadm show."""
        proc = subprocess.run(['tgtadm', '-C', str(self.tgtd.control_port), '--lld', 'iscsi',
                               '--mode', 'target', '--op', 'show'],
                              capture_output=True, text=True, timeout=30, check=True)
        return {t['iqn']: t for t in tgtadm.parse_targets(proc.stdout)}

    def restart_tgtd_empty(self):
        self.tgtd.kill()
        self.tgtd.start()
        self.assertEqual({}, self.targets())

    def wait_targets(self, iqns, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            present = self.targets()
            if all(i in present for i in iqns):
                return present
            if time.monotonic() > deadline:
                self.fail('targets %s not back within %ss; tgtd has %s'
                          % (iqns, timeout, sorted(present)))
            time.sleep(0.2)

    # -- the initiator ----------------------------------------------------

    def image_opts(self, node, initiator=None):
        return ','.join(['driver=iscsi', 'transport=tcp', 'portal=' + self.tgtd.portal,
                         'target=' + node['target']['iqn'],
                         'lun=%d' % node['target']['lun'],
                         'initiator-name=' + (initiator or node['initiator_iqn'])])

    def read_lun(self, node, initiator=None):
        """Copy the node's LUN with qemu-img; return (rc, bytes or stderr)."""
        out = os.path.join(self.tmp, 'lun.raw')
        proc = subprocess.run(['qemu-img', 'convert', '--image-opts',
                               self.image_opts(node, initiator), '-O', 'raw', out],
                              capture_output=True, text=True, timeout=60)
        if proc.returncode:
            return proc.returncode, proc.stderr
        with open(out, 'rb') as f:
            return 0, f.read()

    def qemu_io(self, node, command):
        proc = subprocess.run(['qemu-io', '--image-opts', self.image_opts(node), '-c', command],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertNotIn('failed', proc.stdout + proc.stderr)
        return proc.stdout

    # -- the node's disk ----------------------------------------------------

    def disk_bytes(self, name):
        with open(self.storage_path(name), 'rb') as f:
            return f.read()

    def assert_lun_is_disk(self, node, other=None):
        """The node reads exactly its disk; ``other``'s initiator is refused."""
        rc, got = self.read_lun(node)
        self.assertEqual(0, rc, got)
        disk = self.disk_bytes(node['disk'])
        self.assertEqual(len(disk), len(got))
        self.assertTrue(got == disk, 'bytes read over iSCSI differ from the node disk')
        if other is not None:
            rc, err = self.read_lun(node, initiator=other['initiator_iqn'])
            self.assertNotEqual(0, rc, "another node's initiator read this node's LUN")
            self.assertIn('Failed to log in', err)

    def setup_nodes(self, count=2):
        project = self.make_project()
        image, _, data = self.import_image(project)
        nodes = [self.provision(project, image['id']) for _ in range(count)]
        for node in nodes:
            self.assertEqual('active', node['provision_state'], node)
        return image, data, nodes


class TestFileStorage(TgtApiTest):

    def test_node_reads_and_writes_its_own_disk_only(self):
        image, golden, (n1, n2) = self.setup_nodes()
        # tgtd exports each disk file at LUN 1 to that node's initiator only.
        targets = self.targets()
        for node in (n1, n2):
            target = targets[node['target']['iqn']]
            self.assertEqual([node['initiator_iqn']], target['acls'])
            self.assertEqual(self.storage_path(node['disk']), target['luns'][1]['path'])
        # Reading LUN 1 gives the node's disk, a clone of the golden image.
        self.assertTrue(self.disk_bytes(n1['disk']) == golden)
        self.assert_lun_is_disk(n1, other=n2)
        self.assert_lun_is_disk(n2, other=n1)
        rc, err = self.read_lun(n1, initiator='iqn.2026-11.org.elsewhere:intruder')
        self.assertNotEqual(0, rc)
        self.assertIn('Failed to log in', err)

        gold_file = image['storage_name']
        gold_before = (self.disk_bytes(gold_file), self.disk_bytes(gold_file + '@m2golden'))
        n2_before = self.disk_bytes(n2['disk'])
        offset, length = 1 * MiB, 64 * 1024
        out = self.qemu_io(n1, 'write -P 0x5a %d %d' % (offset, length))
        self.assertIn('wrote %d/%d bytes' % (length, length), out)
        # The write landed in n1's disk, there only.
        after = self.disk_bytes(n1['disk'])
        self.assertEqual(b'\x5a' * length, after[offset:offset + length])
        self.assertTrue(after[:offset] == golden[:offset]
                        and after[offset + length:] == golden[offset + length:],
                        'bytes outside the write changed')
        self.assertTrue(self.disk_bytes(n2['disk']) == n2_before, "the other node's disk changed")
        self.assertTrue((self.disk_bytes(gold_file), self.disk_bytes(gold_file + '@m2golden'))
                        == gold_before, 'the golden image changed')
        out = self.qemu_io(n1, 'read -P 0x5a %d %d' % (offset, length))
        self.assertIn('read %d/%d bytes' % (length, length), out)
        self.assert_audit_clean()

    def test_deprovision_while_initiator_logged_in(self):
        _, _, (node,) = self.setup_nodes(count=1)
        iqn = node['target']['iqn']
        # An interactive qemu-io holds its iSCSI session open until stdin ends.
        session = subprocess.Popen(['qemu-io', '--image-opts', self.image_opts(node)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        self.addCleanup(lambda: session.poll() is None and session.kill())
        deadline = time.monotonic() + 15
        while not self.targets()[iqn]['sessions']:
            # (Its stderr is read only once it exited: reading blocks before.)
            if session.poll() is not None:
                self.fail('qemu-io exited: %s' % session.communicate()[1])
            self.assertLess(time.monotonic(), deadline, 'initiator never logged in')
            time.sleep(0.1)
        [logged] = self.targets()[iqn]['sessions']
        self.assertEqual(node['initiator_iqn'], logged['initiator'])

        self.api('DELETE', '/v1/nodes/%s' % node['name'], expect=202)
        self.server.wait_for('/v1/nodes/%s' % node['name'], gone=True, timeout=30)
        self.assertNotIn(iqn, self.targets())
        self.assertNotIn(node['disk'], self.storage_names())
        # The initiator was cut off; whatever it does next must not matter.
        try:
            session.communicate(b'quit\n', timeout=5)
        except subprocess.TimeoutExpired:
            session.kill()
            session.communicate()
        self.assert_audit_clean()

    def test_targets_back_after_tgtd_restart(self):
        _, _, (n1, n2) = self.setup_nodes()
        iqns = [n1['target']['iqn'], n2['target']['iqn']]

        # 1. POST /v1/audit {"fix": true} (the periodic check is off).
        self.restart_tgtd_empty()
        report = self.api('GET', '/v1/audit', expect=200)
        self.assertEqual(sorted(iqns), report['targets']['missing'])
        self.assertFalse(report['clean'])
        self.assertEqual({}, self.targets(), 'a GET audit must not fix anything')
        report = self.api('POST', '/v1/audit', {'fix': True}, expect=200)
        self.assertTrue(report['clean'], report)
        self.assertEqual(sorted('restore target %s' % i for i in iqns),
                         sorted(f for f in report['fixed'] if f.startswith('restore target')))
        self.assertEqual(sorted(iqns), sorted(self.targets()))
        self.assert_lun_is_disk(n1, other=n2)
        self.assert_lun_is_disk(n2, other=n1)

        # 2. Conductor start: m2-server restarted after tgtd lost everything.
        self.server.stop()
        self.restart_tgtd_empty()
        self.server.start()
        # start() restores targets before the API answers.
        self.assertEqual(sorted(iqns), sorted(self.targets()))
        self.assert_lun_is_disk(n1, other=n2)
        self.assert_lun_is_disk(n2, other=n1)

        # 3. The periodic check, with nothing else happening.
        self.server.restart(conf={'conductor': {'sync_interval': 1}})
        self.restart_tgtd_empty()
        self.wait_targets(iqns, timeout=15)
        self.assert_lun_is_disk(n1, other=n2)
        self.assert_lun_is_disk(n2, other=n1)
        self.assert_audit_clean()


class TestCephStorage(TgtApiTest):
    """The same through tgtd's rbd backing store (optional: skips loudly)."""

    def setUp(self):
        cluster = self.useFixture(ceph_component.CephFixture()).cluster
        self.cluster = cluster
        self.extra_conf = {'drivers': {'storage': 'ceph'},
                           'ceph': {'pool': cluster.pool, 'conffile': cluster.conffile,
                                    'user': cluster.user, 'keyring': cluster.keyring}}
        # A uid of its own: m2's names (<uid>img1, <uid>node1) cannot meet
        # another test's in the shared pool, and cleanup finds them all.
        self.prefix = 'tgtapi' + uuid.uuid4().hex[:8]
        self.extra_conf['DEFAULT'] = {'uid': self.prefix}
        self.addCleanup(cluster.purge, self.prefix)
        super().setUp()
        if 'rbd' not in subprocess.run(
                ['tgtadm', '-C', str(self.tgtd.control_port), '--mode', 'system', '--op',
                 'show'], capture_output=True, text=True, timeout=30).stdout:
            self.skipTest('*** SKIPPED: tgtd has no rbd backing store; install tgt-rbd '
                          '(tools/tgt.sh install) ***')

    def source_image(self, size=4 * MiB, name=None):
        name = name or '%s-src' % self.prefix
        data = os.urandom(size)
        path = os.path.join(self.tmp, name)
        with open(path, 'wb') as f:
            f.write(data)
        self.cluster.rbd('import', '--image-format', '2', path, name)
        return name, data

    def disk_bytes(self, name):
        path = os.path.join(self.tmp, 'export.raw')
        if os.path.exists(path):
            os.remove(path)
        self.cluster.rbd('export', name, path)
        with open(path, 'rb') as f:
            return f.read()

    def test_node_reads_and_writes_its_own_rbd_clone_only(self):
        image, golden, (n1, n2) = self.setup_nodes()
        targets = self.targets()
        for node in (n1, n2):
            target = targets[node['target']['iqn']]
            self.assertEqual([node['initiator_iqn']], target['acls'])
            self.assertEqual('rbd', target['luns'][1]['bstype'])
        self.assertTrue(self.disk_bytes(n1['disk']) == golden)
        self.assert_lun_is_disk(n1, other=n2)

        gold = image['storage_name']
        gold_before = (self.disk_bytes(gold), self.disk_bytes(gold + '@m2golden'))
        n2_before = self.disk_bytes(n2['disk'])
        offset, length = 1 * MiB, 64 * 1024
        self.qemu_io(n1, 'write -P 0xc3 %d %d' % (offset, length))
        after = self.disk_bytes(n1['disk'])
        self.assertEqual(b'\xc3' * length, after[offset:offset + length])
        self.assertTrue(after[:offset] == golden[:offset]
                        and after[offset + length:] == golden[offset + length:])
        self.assertTrue(self.disk_bytes(n2['disk']) == n2_before, "the other node's disk changed")
        self.assertTrue((self.disk_bytes(gold), self.disk_bytes(gold + '@m2golden'))
                        == gold_before, 'the golden image changed')

        # Deprovisioned: target and clone gone, the golden image stays.
        self.api('DELETE', '/v1/nodes/%s' % n2['name'], expect=202)
        self.server.wait_for('/v1/nodes/%s' % n2['name'], gone=True, timeout=60)
        self.assertNotIn(n2['target']['iqn'], self.targets())
        self.assertNotIn(n2['disk'], self.cluster.rbd('ls').decode().split())
        self.assertTrue(self.disk_bytes(gold) == gold_before[0])

        # tgtd restarted: the audit restores rbd-backed targets too.
        self.restart_tgtd_empty()
        report = self.api('POST', '/v1/audit', {'fix': True}, expect=200)
        self.assertTrue(report['clean'], report)
        self.assertEqual([n1['target']['iqn']], sorted(self.targets()))
        self.assert_lun_is_disk(n1)

        # Deprovisioned right after the crash: the killed tgtd's watch on the
        # clone lingers until Ceph times it out (~30 s); removal waits for it.
        self.api('DELETE', '/v1/nodes/%s' % n1['name'], expect=202)
        self.server.wait_for('/v1/nodes/%s' % n1['name'], gone=True, timeout=120)
        self.assertEqual({}, self.targets())
        self.assertNotIn(n1['disk'], self.cluster.rbd('ls').decode().split())
        self.assert_audit_clean()
