"""The tgt driver against a real tgtd, read and written by a real initiator.

The initiator is QEMU's user-space iSCSI client (libiscsi), through
``qemu-img`` and ``qemu-io`` with ``--image-opts`` so that each call sets its
initiator name and CHAP credentials (the password from a ``secret`` object
read from a file, never on the command line).
"""

import os
import shutil
import subprocess
import threading
import time
import uuid

import fixtures
import testtools

from m2.common import exception
from m2.drivers.iscsi import tgt, tgtadm
from m2.tests import base
from m2.tests.functional.components import tgt as tgt_component

# A prefix of its own per test run: should an initiator ever reach another
# tgtd than this test's, it finds no such target instead of wrong bytes.
PREFIX = 'iqn.2026-11.org.m2test%s' % uuid.uuid4().hex[:8]
SIZE = 4 * 1024 * 1024


def iqn(name):
    return '%s:%s' % (PREFIX, name)


def initiator(name):
    return '%s:initiator:%s' % (PREFIX, name)


class TgtDriverTest(base.TestCase):

    def setUp(self):
        super().setUp()
        for tool in ('qemu-img', 'qemu-io'):
            if not shutil.which(tool):
                self.skipTest('*** SKIPPED: %s is missing; run `tools/tgt.sh install` '
                              '(qemu-utils qemu-block-extra) ***' % tool)
        self.config(iqn_prefix=PREFIX, group='iscsi')
        self.tgtd = self.useFixture(tgt_component.TgtdFixture(self))
        self.driver = tgt.TgtDriver()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    # -- helpers ----------------------------------------------------------

    def disk(self, name, data=None):
        """A backing file full of random bytes; returns (path, bytes)."""
        path = os.path.join(self.tmp, name + '.img')
        data = os.urandom(SIZE) if data is None else data
        with open(path, 'wb') as f:
            f.write(data)
        return path, data

    def image_opts(self, target_iqn, initiator_iqn, chap=None):
        opts = ['driver=iscsi', 'transport=tcp', 'portal=' + self.tgtd.portal,
                'target=' + target_iqn, 'lun=1', 'initiator-name=' + initiator_iqn]
        objects = []
        if chap:
            pw = os.path.join(self.tmp, 'pw-%s' % chap[0])
            with open(os.open(pw, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w') as f:
                f.write(chap[1])
            objects = ['--object', 'secret,id=chap0,file=' + pw]
            opts += ['user=' + chap[0], 'password-secret=chap0']
        return objects, ','.join(opts)

    def read_lun(self, target_iqn, initiator_iqn, chap=None):
        """Copy LUN 1 to a file with qemu-img; return (rc, bytes or stderr)."""
        objects, opts = self.image_opts(target_iqn, initiator_iqn, chap)
        out = os.path.join(self.tmp, 'out.raw')
        proc = subprocess.run(['qemu-img', 'convert'] + objects
                              + ['--image-opts', opts, '-O', 'raw', out],
                              capture_output=True, text=True, timeout=60)
        if proc.returncode:
            return proc.returncode, proc.stderr
        with open(out, 'rb') as f:
            return 0, f.read()

    def qemu_io(self, target_iqn, initiator_iqn, command, chap=None):
        objects, opts = self.image_opts(target_iqn, initiator_iqn, chap)
        return subprocess.run(['qemu-io'] + objects + ['--image-opts', opts, '-c', command],
                              capture_output=True, text=True, timeout=60)

    def file_backing(self, path):
        return {'type': 'file', 'path': path}

    # -- tests ------------------------------------------------------------

    def test_read_lun1_gives_the_node_disk(self):
        path, data = self.disk('n1')
        info = self.driver.create_target(iqn('n1'), self.file_backing(path), initiator('n1'))
        self.assertEqual({'iqn': iqn('n1'), 'portals': [self.tgtd.portal], 'lun': 1}, info)
        rc, got = self.read_lun(iqn('n1'), initiator('n1'))
        self.assertEqual(0, rc, got)
        self.assertEqual(len(data), len(got))
        self.assertTrue(got == data, 'bytes read over iSCSI differ from the disk')

    def test_write_lands_in_that_node_disk_only(self):
        path1, data1 = self.disk('n1')
        path2, data2 = self.disk('n2')
        self.driver.create_target(iqn('n1'), self.file_backing(path1), initiator('n1'))
        self.driver.create_target(iqn('n2'), self.file_backing(path2), initiator('n2'))
        offset, length = 1024 * 1024, 65536
        proc = self.qemu_io(iqn('n1'), initiator('n1'),
                            'write -P 0xab %d %d' % (offset, length))
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertIn('wrote %d/%d bytes' % (length, length), proc.stdout)
        with open(path1, 'rb') as f:
            after1 = f.read()
        with open(path2, 'rb') as f:
            after2 = f.read()
        self.assertEqual(b'\xab' * length, after1[offset:offset + length])
        self.assertTrue(after1[:offset] == data1[:offset]
                        and after1[offset + length:] == data1[offset + length:],
                        'bytes outside the write changed')
        self.assertTrue(after2 == data2, "the other node's disk changed")
        # And the initiator reads back what it wrote.
        proc = self.qemu_io(iqn('n1'), initiator('n1'),
                            'read -P 0xab %d %d' % (offset, length))
        self.assertNotIn('Pattern verification failed', proc.stdout + proc.stderr)

    def test_other_initiator_name_refused(self):
        path, _ = self.disk('n1')
        self.driver.create_target(iqn('n1'), self.file_backing(path), initiator('n1'))
        rc, err = self.read_lun(iqn('n1'), initiator('n2'))
        self.assertNotEqual(0, rc)
        self.assertIn('Failed to log in', err)
        # No ACL entry lets "ALL" in.
        [target] = self.driver.list_targets()
        self.assertEqual([initiator('n1')], target['initiators'])

    def test_chap(self):
        path, data = self.disk('n1')
        chap = ('n1user', 'Sup3rSecretVal')
        self.driver.create_target(iqn('n1'), self.file_backing(path), initiator('n1'),
                                  chap=chap)
        rc, err = self.read_lun(iqn('n1'), initiator('n1'))
        self.assertNotEqual(0, rc, 'login without CHAP was accepted')
        self.assertIn('Failed to', err)  # libiscsi's wording varies
        rc, err = self.read_lun(iqn('n1'), initiator('n1'), chap=('n1user', 'WrongSecret12'))
        self.assertNotEqual(0, rc, 'login with a wrong CHAP secret was accepted')
        self.assertIn('Failed to', err)  # libiscsi's wording varies
        rc, err = self.read_lun(iqn('n1'), initiator('n2'), chap=chap)
        self.assertNotEqual(0, rc, 'another initiator name with the right secret got in')
        rc, got = self.read_lun(iqn('n1'), initiator('n1'), chap=chap)
        self.assertEqual(0, rc, got)
        self.assertTrue(got == data)
        # Re-creating with a new secret replaces the old one.
        new = ('n1user', 'AnotherSecret9')
        self.driver.create_target(iqn('n1'), self.file_backing(path), initiator('n1'), chap=new)
        self.assertNotEqual(0, self.read_lun(iqn('n1'), initiator('n1'), chap=chap)[0])
        self.assertEqual(0, self.read_lun(iqn('n1'), initiator('n1'), chap=new)[0])
        # Deleting the target deletes its (global) account.
        self.assertIn('n1user', tgtadm.show_accounts())
        self.driver.delete_target(iqn('n1'))
        self.assertNotIn('n1user', tgtadm.show_accounts())

    def test_chap_secret_never_logged(self):
        logger = self.useFixture(fixtures.FakeLogger(level='DEBUG'))
        path, _ = self.disk('n1')
        secret = 'NeverLogThis42'
        self.driver.create_target(iqn('n1'), self.file_backing(path), initiator('n1'),
                                  chap=('n1user', secret))
        self.driver.create_target(iqn('n1'), self.file_backing(path), initiator('n1'),
                                  chap=('n1user', secret))
        self.driver.delete_target(iqn('n1'))
        self.assertIn('--password', logger.output)   # the command was logged...
        self.assertNotIn(secret, logger.output)      # ...without the secret

    def test_delete_while_initiator_logged_in(self):
        path, _ = self.disk('n1')
        chap = ('n1user', 'Sup3rSecretVal')
        self.driver.create_target(iqn('n1'), self.file_backing(path), initiator('n1'),
                                  chap=chap)
        objects, opts = self.image_opts(iqn('n1'), initiator('n1'), chap)
        # An interactive qemu-io keeps its iSCSI session open until stdin ends.
        holder = subprocess.Popen(['qemu-io'] + objects + ['--image-opts', opts],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        self.addCleanup(holder.wait, 10)
        self.addCleanup(holder.kill)
        for _ in range(100):
            targets = self.driver.list_targets()
            if targets and targets[0]['connections']:
                break
            time.sleep(0.05)
        self.assertEqual(1, targets[0]['connections'], 'qemu-io never logged in')
        self.assertEqual([initiator('n1')], targets[0]['connected'])
        self.assertIsNone(holder.poll())

        self.driver.delete_target(iqn('n1'))

        self.assertEqual([], self.driver.list_targets())
        self.assertNotIn('n1user', tgtadm.show_accounts())
        self.assertNotIn(iqn('n1'), tgtadm.show_targets())

    def test_create_and_delete_are_idempotent(self):
        path, data = self.disk('n1')
        other, _ = self.disk('n2')
        first = self.driver.create_target(iqn('n1'), self.file_backing(path), initiator('n1'))
        again = self.driver.create_target(iqn('n1'), self.file_backing(path), initiator('n1'))
        self.assertEqual(first, again)
        self.assertEqual(1, len(self.driver.list_targets()))
        self.assertRaises(exception.TargetExists, self.driver.create_target,
                          iqn('n1'), self.file_backing(other), initiator('n1'))
        self.assertEqual(0, self.read_lun(iqn('n1'), initiator('n1'))[0])
        self.driver.delete_target(iqn('n1'))
        self.driver.delete_target(iqn('n1'))
        self.assertEqual([], self.driver.list_targets())

    def test_create_repairs_a_half_made_target(self):
        # As left by a crash right after "target new": no LUN, no ACL.
        path, data = self.disk('n1')
        tgtadm.new_target(7, iqn('n1'))
        self.assertEqual(1, self.read_lun(iqn('n1'), initiator('n1'))[0])
        self.driver.create_target(iqn('n1'), self.file_backing(path), initiator('n1'))
        rc, got = self.read_lun(iqn('n1'), initiator('n1'))
        self.assertEqual(0, rc, got)
        self.assertTrue(got == data)

    def test_readonly(self):
        path, data = self.disk('n1')
        self.driver.create_target(iqn('n1'), self.file_backing(path), initiator('n1'),
                                  readonly=True)
        self.assertTrue(self.driver.list_targets()[0]['readonly'])
        proc = self.qemu_io(iqn('n1'), initiator('n1'), 'write -P 0xcd 0 4096')
        self.assertNotIn('wrote 4096/4096', proc.stdout)
        with open(path, 'rb') as f:
            self.assertTrue(f.read() == data, 'a read-only LUN was written')

    def test_list_targets(self):
        path1, _ = self.disk('n1')
        path2, _ = self.disk('n2')
        self.driver.create_target(iqn('n1'), self.file_backing(path1), initiator('n1'),
                                  chap=('n1user', 'Sup3rSecretVal'))
        self.driver.create_target(iqn('n2'), self.file_backing(path2), initiator('n2'))
        # Someone else's target on the same tgtd is neither listed nor touched.
        tgtadm.new_target(50, 'iqn.2010-10.org.other:foreign')
        targets = sorted(self.driver.list_targets(), key=lambda t: t['iqn'])
        self.assertEqual(
            [{'iqn': iqn('n1'), 'backing': path1, 'backing_type': 'file', 'readonly': False,
              'initiators': [initiator('n1')], 'chap_users': ['n1user'],
              'connections': 0, 'connected': []},
             {'iqn': iqn('n2'), 'backing': path2, 'backing_type': 'file', 'readonly': False,
              'initiators': [initiator('n2')], 'chap_users': [],
              'connections': 0, 'connected': []}],
            [{k: v for k, v in t.items() if k != 'tid'} for t in targets])
        self.driver.delete_target(iqn('n1'))
        self.assertIn('iqn.2010-10.org.other:foreign', tgtadm.show_targets())

    def test_tgtd_restart_then_recreate_from_list(self):
        disks = {}
        for name in ('n1', 'n2', 'n3'):
            disks[name] = self.disk(name)
            self.driver.create_target(iqn(name), self.file_backing(disks[name][0]),
                                      initiator(name))
        before = self.driver.list_targets()
        self.assertEqual(3, len(before))

        self.tgtd.kill()
        self.assertRaises(exception.BackendUnavailable, self.driver.list_targets)
        self.assertRaises(exception.BackendUnavailable, self.driver.create_target,
                          iqn('n1'), self.file_backing(disks['n1'][0]), initiator('n1'))
        self.tgtd.start()
        self.assertEqual([], self.driver.list_targets())

        for target in before:
            self.driver.create_target(target['iqn'], self.file_backing(target['backing']),
                                      target['initiators'][0])
        self.assertEqual(sorted(t['iqn'] for t in before),
                         sorted(t['iqn'] for t in self.driver.list_targets()))
        for name, (_path, data) in disks.items():
            rc, got = self.read_lun(iqn(name), initiator(name))
            self.assertEqual(0, rc, got)
            self.assertTrue(got == data, 'target %s exports the wrong bytes' % name)

    def test_two_conductors_sharing_tgtd_race_for_tids(self):
        drivers = [tgt.TgtDriver(), tgt.TgtDriver()]
        path, _ = self.disk('shared')
        errors = []

        def make(driver, names):
            try:
                for name in names:
                    driver.create_target(iqn(name), self.file_backing(path), initiator(name),
                                         readonly=True)
            except Exception as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=make, args=(d, ['c%d-%d' % (i, j)
                                                           for j in range(10)]))
                   for i, d in enumerate(drivers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([], errors)
        targets = self.driver.list_targets()
        self.assertEqual(20, len(targets))
        self.assertEqual(20, len({t['tid'] for t in targets}))

    def test_invalid_backing_refused_before_tgtadm(self):
        for backing in ({'type': 'file', 'path': 'relative.img'},
                        {'type': 'file', 'path': '/tmp/x,bstype=aio'},
                        {'type': 'file', 'path': '/tmp/../etc/passwd'},
                        {'type': 'rbd', 'pool': 'rbd', 'image': 'a;id=admin',
                         'conf': '/etc/ceph/ceph.conf', 'user': 'm2'},
                        {'type': 'nbd'}):
            self.assertRaises(exception.Invalid, self.driver.create_target,
                              iqn('n1'), backing, initiator('n1'))
        self.assertEqual([], self.driver.list_targets())


class TgtdDownTest(base.TestCase):

    def test_no_tgtd_is_backend_unavailable(self):
        if not shutil.which('tgtadm'):
            raise testtools.TestCase.skipException('*** SKIPPED: tgtadm is not installed ***')
        # A control socket number no tgtd uses.
        self.config(control_port=32001, group='tgt')
        driver = tgt.TgtDriver()
        self.assertRaises(exception.BackendUnavailable, driver.list_targets)
        self.assertRaises(exception.BackendUnavailable, driver.delete_target, iqn('n1'))


class TgtRbdTest(base.TestCase):
    """An RBD image exported through tgtd's rbd backing store (librbd)."""

    def setUp(self):
        super().setUp()
        from m2.tests.functional.components import ceph as ceph_component
        if not shutil.which('qemu-img'):
            self.skipTest('*** SKIPPED: qemu-img is missing; run `tools/tgt.sh install` ***')
        self.config(iqn_prefix=PREFIX, group='iscsi')
        self.ceph = self.useFixture(ceph_component.CephFixture(self)).cluster
        self.tgtd = self.useFixture(tgt_component.TgtdFixture(self))
        self.driver = tgt.TgtDriver()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def test_read_and_write_an_rbd_lun(self):
        name = 'tgttest' + uuid.uuid4().hex[:8]
        src = os.path.join(self.tmp, 'src.raw')
        data = os.urandom(SIZE)
        with open(src, 'wb') as f:
            f.write(data)
        self.ceph.rbd('import', src, name)
        self.addCleanup(self.ceph.purge, name)
        backing = {'type': 'rbd', 'pool': self.ceph.pool, 'image': name,
                   'conf': self.ceph.conffile, 'user': self.ceph.user}
        self.driver.create_target(iqn('r1'), backing, initiator('r1'))
        self.addCleanup(self.driver.delete_target, iqn('r1'))
        [target] = self.driver.list_targets()
        self.assertEqual(('%s/%s' % (self.ceph.pool, name), 'rbd'),
                         (target['backing'], target['backing_type']))
        # Idempotent for rbd too, and another image is another backing.
        self.driver.create_target(iqn('r1'), backing, initiator('r1'))
        self.assertRaises(exception.TargetExists, self.driver.create_target, iqn('r1'),
                          dict(backing, image=name + 'x'), initiator('r1'))

        helper = TgtDriverTest('test_read_lun1_gives_the_node_disk')
        helper.tgtd, helper.tmp = self.tgtd, self.tmp
        rc, got = helper.read_lun(iqn('r1'), initiator('r1'))
        self.assertEqual(0, rc, got)
        self.assertTrue(got == data, 'bytes read over iSCSI differ from the RBD image')
        proc = helper.qemu_io(iqn('r1'), initiator('r1'), 'write -P 0x5a 4096 8192')
        self.assertIn('wrote 8192/8192', proc.stdout, proc.stderr)
        self.driver.delete_target(iqn('r1'))
        out = os.path.join(self.tmp, 'export.raw')
        self.ceph.rbd('export', name, out)
        with open(out, 'rb') as f:
            exported = f.read()
        self.assertEqual(b'\x5a' * 8192, exported[4096:4096 + 8192])
        self.assertTrue(exported[:4096] == data[:4096] and exported[12288:] == data[12288:])
