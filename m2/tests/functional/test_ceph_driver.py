"""The ceph storage driver against a real Ceph cluster (tools/ceph.sh).

The same verb contract the file driver is held to, checked through the
driver and, where it matters, independently through the ``rbd`` CLI: data
round trips, point-in-time snapshots, copy-on-write isolation of clones,
flatten, refusals and idempotent removes, the import workflow, every error
mapping, and a monitor outage giving BackendUnavailable within the configured
timeout and a working connection again once the monitor is back.

Run: ``.venv/bin/python -m stestr --test-path m2/tests/functional run test_ceph_driver``
"""

import hashlib
import json
import os
import threading
import time
import uuid

from m2.common import exception
from m2.drivers.storage import ceph as ceph_driver
from m2.tests import base
from m2.tests.functional.components import ceph as ceph_component

MiB = 1024 * 1024


def _pattern(size, seed):
    """Deterministic, non-repeating bytes (a zero image would prove nothing)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(b'%s-%d' % (seed.encode(), counter)).digest()
        counter += 1
    return bytes(out[:size])


class CephTestCase(base.TestCase):
    """A driver on the shared cluster; every image name starts with self.prefix."""

    private_cluster = False

    def setUp(self):
        super().setUp()
        fixture = self.useFixture(ceph_component.CephFixture(self, private=self.private_cluster))
        self.cluster = fixture.cluster
        self.prefix = 't%s' % uuid.uuid4().hex[:10]
        self.addCleanup(self.cluster.purge, self.prefix)
        self.driver = ceph_driver.CephStorageDriver()

    def n(self, suffix):
        return '%s%s' % (self.prefix, suffix)

    def make_image(self, suffix, size=4 * MiB, data=None):
        name = self.n(suffix)
        self.driver.create_image(name, size)
        if data:
            self.driver.write_image(name, [data])
        return name

    def make_golden(self, suffix='img', size=4 * MiB, snap='gold'):
        data = _pattern(size, suffix)
        name = self.make_image(suffix, size, data)
        self.driver.create_snapshot(name, snap)
        self.driver.protect_snapshot(name, snap)
        return name, data

    def export(self, name):
        """The image's bytes as the rbd CLI (another client) sees them."""
        return self.cluster.rbd('export', '--no-progress', name, '-')

    def info(self, name):
        return json.loads(self.cluster.rbd('info', '--format', 'json', name))

    def read(self, name, snapshot=None):
        return b''.join(self.driver.read_image(name, snapshot))


class TestImages(CephTestCase):

    def test_create_list_exists_size(self):
        name = self.make_image('a', 6 * MiB)
        self.assertIn(name, self.driver.list_images())
        self.assertTrue(self.driver.image_exists(name))
        self.assertEqual(6 * MiB, self.driver.get_size(name))
        info = self.info(name)
        self.assertEqual(2, info['format'])
        self.assertIn('layering', info['features'])
        # Sparse and zero-filled.
        self.assertEqual(b'\0' * (6 * MiB), self.export(name))

    def test_create_existing_refused(self):
        name = self.make_image('a', MiB)
        self.assertRaises(exception.StorageImageExists, self.driver.create_image, name, MiB)

    def test_missing_image(self):
        name = self.n('missing')
        self.assertFalse(self.driver.image_exists(name))
        self.assertNotIn(name, self.driver.list_images())
        for call, args in ((self.driver.get_size, ()), (self.driver.list_snapshots, ()),
                           (self.driver.flatten, ()), (self.driver.get_parent, ()),
                           (self.driver.backing_store, ()), (self.driver.read_image, ()),
                           (self.driver.write_image, ([b'x'],)),
                           (self.driver.create_snapshot, ('s',)),
                           (self.driver.protect_snapshot, ('s',))):
            exc = self.assertRaises(exception.StorageImageNotFound, call, name, *args)
            self.assertEqual(404, exc.code)
            self.assertIn(name, str(exc))

    def test_write_read_round_trip_in_chunks(self):
        name = self.make_image('a', 8 * MiB)
        data = _pattern(5 * MiB + 123, 'rt')
        pieces = [data[i:i + 700 * 1024] for i in range(0, len(data), 700 * 1024)]
        done = []
        self.driver.write_image(name, iter(pieces), progress=done.append)
        self.assertEqual(len(pieces), len(done))
        self.assertEqual(len(data), done[-1])
        expected = data + b'\0' * (8 * MiB - len(data))
        # Another client sees exactly what was written.
        self.assertEqual(expected, self.export(name))
        chunks = list(self.driver.read_image(name, chunk_size=MiB))
        self.assertEqual([MiB] * 8, [len(c) for c in chunks])
        self.assertEqual(expected, b''.join(chunks))

    def test_read_uses_configured_chunk_size_and_streams(self):
        self.config(chunk_size=64 * 1024, group='storage')
        name = self.make_image('a', 2 * MiB, _pattern(2 * MiB, 'cs'))
        stream = self.driver.read_image(name)
        first = next(stream)
        self.assertEqual(64 * 1024, len(first))
        rest = list(stream)
        self.assertEqual(31, len(rest))
        self.assertTrue(all(len(c) == 64 * 1024 for c in rest))
        self.assertEqual(_pattern(2 * MiB, 'cs'), first + b''.join(rest))

    def test_write_larger_than_image_refused(self):
        name = self.make_image('a', MiB)
        exc = self.assertRaises(exception.Invalid, self.driver.write_image, name,
                                [b'x' * MiB, b'y'])
        self.assertEqual(400, exc.code)

    def test_remove_is_idempotent(self):
        name = self.make_image('a')
        self.driver.remove_image(name)
        self.assertFalse(self.driver.image_exists(name))
        self.assertNotIn(name, self.cluster.rbd('ls').decode().split())
        self.driver.remove_image(name)

    def test_remove_with_snapshots_refused(self):
        name = self.make_image('a')
        self.driver.create_snapshot(name, 's')
        exc = self.assertRaises(exception.StorageHasSnapshots, self.driver.remove_image, name)
        self.assertEqual(409, exc.code)
        self.assertTrue(self.driver.image_exists(name))

    def open_elsewhere(self, name):
        """Open ``name`` from another client, as tgtd serving a LUN does."""
        import rados
        import rbd
        other = rados.Rados(conffile=self.cluster.conffile, rados_id=self.cluster.user,
                            conf={'keyring': self.cluster.keyring})
        other.connect(timeout=10)
        self.addCleanup(other.shutdown)
        ioctx = other.open_ioctx(self.cluster.pool)
        self.addCleanup(ioctx.close)
        return rbd.Image(ioctx, name)

    def test_remove_while_open_elsewhere_is_busy(self):
        name = self.make_image('a')
        image = self.open_elsewhere(name)
        self.config(group='ceph', busy_timeout=1)
        start = time.monotonic()
        exc = self.assertRaises(exception.StorageImageBusy, self.driver.remove_image, name)
        self.assertEqual(409, exc.code)
        self.assertGreaterEqual(time.monotonic() - start, 1)  # it kept trying first
        image.close()
        self.driver.remove_image(name)
        self.assertFalse(self.driver.image_exists(name))

    def test_remove_waits_for_a_watcher_to_go(self):
        # As after an iSCSI gateway crash: the watch goes away by itself.
        name = self.make_image('a')
        image = self.open_elsewhere(name)
        closing = []

        def close():
            closing.append(True)
            image.close()

        closer = threading.Timer(1.5, close)
        self.addCleanup(closer.cancel)
        closer.start()
        self.config(group='ceph', busy_timeout=60)
        self.driver.remove_image(name)
        self.assertEqual([True], closing, 'removed while the watcher was still there')
        self.assertFalse(self.driver.image_exists(name))

    def test_backing_store(self):
        name = self.make_image('a')
        self.assertEqual({'type': 'rbd', 'pool': self.cluster.pool, 'image': name,
                          'conf': self.cluster.conffile, 'user': 'm2',
                          'keyring': self.cluster.keyring},
                         self.driver.backing_store(name))
        self.config(keyring=None, group='ceph')
        self.assertNotIn('keyring', ceph_driver.CephStorageDriver().backing_store(name))


class TestSnapshots(CephTestCase):

    def test_snapshot_lifecycle(self):
        name = self.make_image('a')
        self.assertEqual([], self.driver.list_snapshots(name))
        self.driver.create_snapshot(name, 's1')
        self.driver.create_snapshot(name, 's1')  # already there: success
        self.assertEqual([{'name': 's1', 'protected': False}], self.driver.list_snapshots(name))
        self.driver.protect_snapshot(name, 's1')
        self.driver.protect_snapshot(name, 's1')  # already protected: success
        self.assertEqual([{'name': 's1', 'protected': True}], self.driver.list_snapshots(name))
        exc = self.assertRaises(exception.SnapshotProtected,
                                self.driver.remove_snapshot, name, 's1')
        self.assertEqual(409, exc.code)
        self.assertIn('s1', self.cluster.rbd('snap', 'ls', name).decode())
        self.driver.unprotect_snapshot(name, 's1')
        self.driver.unprotect_snapshot(name, 's1')  # not protected: success
        self.driver.remove_snapshot(name, 's1')
        self.driver.remove_snapshot(name, 's1')  # gone: success
        self.assertEqual([], self.driver.list_snapshots(name))
        self.driver.unprotect_snapshot(name, 'never')
        self.driver.remove_image(name)
        self.driver.remove_snapshot(name, 's1')  # image gone: success
        self.driver.unprotect_snapshot(name, 's1')

    def test_snapshot_is_point_in_time(self):
        before = _pattern(2 * MiB, 'before')
        name = self.make_image('a', 2 * MiB, before)
        self.driver.create_snapshot(name, 's')
        after = _pattern(2 * MiB, 'after')
        self.driver.write_image(name, [after])
        self.assertEqual(before, self.read(name, 's'))
        self.assertEqual(after, self.read(name))
        self.assertEqual(before, self.cluster.rbd('export', '--no-progress', name + '@s', '-'))

    def test_missing_snapshot(self):
        name = self.make_image('a')
        for call in (self.driver.protect_snapshot, self.driver.read_image):
            exc = self.assertRaises(exception.StorageSnapshotNotFound, call, name, 'nope')
            self.assertEqual(404, exc.code)
        self.assertEqual([], self.driver.list_children(name, 'nope'))
        self.assertEqual([], self.driver.list_children(self.n('missing'), 'nope'))


class TestClones(CephTestCase):

    def test_clone_copy_on_write_isolation(self):
        parent, data = self.make_golden('img')
        child = self.n('node1')
        self.driver.clone(parent, 'gold', child)
        self.assertEqual((parent, 'gold'), self.driver.get_parent(child))
        self.assertIsNone(self.driver.get_parent(parent))
        self.assertEqual([child], self.driver.list_children(parent, 'gold'))
        info = self.info(child)
        self.assertEqual(2, info['format'])
        self.assertEqual(parent, info['parent']['image'])
        self.assertEqual('gold', info['parent']['snapshot'])
        self.assertEqual(data, self.read(child))
        # The node writes its disk: only its clone changes.
        mine = _pattern(MiB, 'node1')
        self.driver.write_image(child, [mine])
        self.assertEqual(mine + data[MiB:], self.export(child))
        self.assertEqual(data, self.export(parent))
        self.assertEqual(data, self.cluster.rbd('export', '--no-progress', parent + '@gold', '-'))
        # A second clone still sees the golden bytes.
        other = self.n('node2')
        self.driver.clone(parent, 'gold', other)
        self.assertEqual(data, self.read(other))
        self.assertEqual(sorted([child, other]), self.driver.list_children(parent, 'gold'))

    def test_clone_refusals(self):
        parent, _ = self.make_golden('img')
        self.driver.create_snapshot(parent, 'loose')
        exc = self.assertRaises(exception.SnapshotNotProtected, self.driver.clone,
                                parent, 'loose', self.n('c1'))
        self.assertEqual(409, exc.code)
        self.assertRaises(exception.StorageSnapshotNotFound, self.driver.clone,
                          parent, 'nope', self.n('c1'))
        self.assertRaises(exception.StorageImageNotFound, self.driver.clone,
                          self.n('missing'), 'gold', self.n('c1'))
        existing = self.make_image('c2')
        self.assertRaises(exception.StorageImageExists, self.driver.clone,
                          parent, 'gold', existing)
        self.assertFalse(self.driver.image_exists(self.n('c1')))

    def test_children_pin_snapshot_and_parent(self):
        parent, _ = self.make_golden('img')
        child = self.n('node')
        self.driver.clone(parent, 'gold', child)
        exc = self.assertRaises(exception.StorageHasChildren,
                                self.driver.unprotect_snapshot, parent, 'gold')
        self.assertIn(child, str(exc))
        self.assertEqual(409, exc.code)
        self.assertRaises(exception.SnapshotProtected,
                          self.driver.remove_snapshot, parent, 'gold')
        self.assertRaises(exception.StorageHasSnapshots, self.driver.remove_image, parent)
        # Removing the clone releases the parent.
        self.driver.remove_image(child)
        self.assertEqual([], self.driver.list_children(parent, 'gold'))
        self.driver.unprotect_snapshot(parent, 'gold')
        self.driver.remove_snapshot(parent, 'gold')
        self.driver.remove_image(parent)
        self.assertNotIn(parent, self.driver.list_images())

    def test_flatten(self):
        parent, data = self.make_golden('img')
        child = self.n('node')
        self.driver.clone(parent, 'gold', child)
        self.driver.write_image(child, [b'N' * 4096])
        self.driver.flatten(child)
        self.assertIsNone(self.driver.get_parent(child))
        self.assertEqual([], self.driver.list_children(parent, 'gold'))
        self.assertNotIn('parent', self.info(child))
        self.driver.flatten(child)  # no parent: no-op
        # The parent can go; the flattened image keeps every byte.
        self.driver.unprotect_snapshot(parent, 'gold')
        self.driver.remove_snapshot(parent, 'gold')
        self.driver.remove_image(parent)
        self.assertEqual(b'N' * 4096 + data[4096:], self.export(child))

    def test_import_workflow_leaves_source_untouched(self):
        # An operator's existing image, made with the rbd CLI.
        source = self.n('src')
        data = _pattern(3 * MiB, 'src')
        path = os.path.join(self.state_path, 'src.raw')
        with open(path, 'wb') as f:
            f.write(data)
        self.cluster.rbd('import', '--no-progress', '--image-format', '2', path, source)
        copy = self.n('img')
        self.driver.create_snapshot(source, 'm2import')
        self.driver.protect_snapshot(source, 'm2import')
        self.driver.clone(source, 'm2import', copy)
        self.driver.flatten(copy)
        self.driver.create_snapshot(copy, 'm2golden')
        self.driver.protect_snapshot(copy, 'm2golden')
        self.driver.unprotect_snapshot(source, 'm2import')
        self.driver.remove_snapshot(source, 'm2import')

        self.assertEqual([], self.driver.list_snapshots(source))
        self.assertEqual(data, self.export(source))
        self.assertIsNone(self.driver.get_parent(copy))
        self.assertEqual([{'name': 'm2golden', 'protected': True}],
                         self.driver.list_snapshots(copy))
        self.assertEqual(data, self.export(copy))
        # The copy is independent: writing it leaves the source alone.
        self.driver.write_image(copy, [b'Z' * MiB])
        self.assertEqual(data, self.export(source))
        self.driver.remove_image(source)
        self.assertEqual(data, self.read(copy, 'm2golden'))


class TestConnection(CephTestCase):

    def test_one_connection_reused(self):
        name = self.make_image('a')
        handle = self.driver.client._handle
        self.assertIsNotNone(handle)
        self.driver.get_size(name)
        self.driver.list_images()
        again = ceph_driver.CephStorageDriver()
        again.image_exists(name)
        self.assertIs(self.driver.client, again.client)
        self.assertIs(handle, again.client._handle)
        self.assertEqual(0, handle.users)

    def test_unreachable_cluster_is_503_within_connect_timeout(self):
        # A monitor address nothing listens on.
        port = base.free_port()
        conf = os.path.join(self.state_path, 'ceph.conf')
        with open(conf, 'w') as f:
            f.write('[global]\nmon host = 127.0.0.1:%d\n' % port)
        self.config(conffile=conf, connect_timeout=2, group='ceph')
        driver = ceph_driver.CephStorageDriver()
        start = time.monotonic()
        exc = self.assertRaises(exception.BackendUnavailable, driver.list_images)
        self.assertLess(time.monotonic() - start, 2 + 10)  # bounded, not hung
        self.assertEqual(503, exc.code)

    def test_bad_settings_are_503(self):
        self.config(conffile=os.path.join(self.state_path, 'absent.conf'), group='ceph')
        self.assertRaises(exception.BackendUnavailable,
                          ceph_driver.CephStorageDriver().list_images)
        self.config(conffile=self.cluster.conffile, group='ceph')
        self.config(pool='nosuchpool', group='ceph')
        exc = self.assertRaises(exception.BackendUnavailable,
                                ceph_driver.CephStorageDriver().list_images)
        self.assertIn('nosuchpool', str(exc))
        self.config(pool=self.cluster.pool, user='nobody',
                    keyring=os.path.join(self.state_path, 'nokeyring'), group='ceph')
        self.assertRaises(exception.BackendUnavailable,
                          ceph_driver.CephStorageDriver().list_images)

    def test_least_privilege_user_confined_to_its_pool(self):
        # client.m2 has "profile rbd pool=<pool>": another pool is refused.
        self.cluster.rbd('ls')  # the user works in its pool
        admin_conf = self.cluster.conffile
        import subprocess
        pool = self.n('other')
        subprocess.run(['ceph', '-c', admin_conf, 'osd', 'pool', 'create', pool, '1', '1'],
                       check=True, capture_output=True, timeout=60)
        self.addCleanup(subprocess.run, ['ceph', '-c', admin_conf, 'osd', 'pool', 'rm', pool,
                                         pool, '--yes-i-really-really-mean-it'],
                        capture_output=True, timeout=60)
        self.config(pool=pool, group='ceph')
        exc = self.assertRaises(exception.M2Exception,
                                ceph_driver.CephStorageDriver().create_image, self.n('x'), MiB)
        self.assertIn('permission', str(exc).lower())


class TestMonitorOutage(CephTestCase):
    """The monitor dies mid-operation: 503 within the timeout, then recovery."""

    private_cluster = True
    TIMEOUT = 3

    def setUp(self):
        super().setUp()
        self.config(connect_timeout=self.TIMEOUT, operation_timeout=self.TIMEOUT, group='ceph')
        self.driver = ceph_driver.CephStorageDriver()
        self.addCleanup(self._ensure_mon)

    def _ensure_mon(self):
        self.cluster.start_mon()

    def test_monitor_stopped_mid_operation(self):
        name = self.make_image('a')
        first_handle = self.driver.client._handle
        errors = []
        stopped_at = []

        def snapshot_loop():
            # Snapshots need the monitor (it allocates snapshot ids).
            i = 0
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    self.driver.create_snapshot(name, 's%d' % i)
                    self.driver.remove_snapshot(name, 's%d' % i)
                except exception.M2Exception as exc:
                    errors.append((time.monotonic(), exc))
                    return
                i += 1

        worker = threading.Thread(target=snapshot_loop)
        worker.start()
        time.sleep(0.5)  # the loop is running operations
        stopped_at.append(time.monotonic())
        self.cluster.stop_mon()
        worker.join(30)
        self.assertFalse(worker.is_alive())
        self.assertEqual(1, len(errors))
        failed_at, exc = errors[0]
        self.assertIsInstance(exc, exception.BackendUnavailable)
        self.assertEqual(503, exc.code)
        # Bounded by the timeouts (not hung); generous for a loaded machine.
        self.assertLess(failed_at - stopped_at[0], self.TIMEOUT + 12)
        # The failed connection was dropped; a new one cannot be made either.
        self.assertIsNone(self.driver.client._handle)
        start = time.monotonic()
        self.assertRaises(exception.BackendUnavailable, self.driver.create_snapshot, name, 'x')
        self.assertLess(time.monotonic() - start, self.TIMEOUT + 12)

        self.cluster.start_mon()
        self.driver.create_snapshot(name, 'after')
        self.assertIn({'name': 'after', 'protected': False}, self.driver.list_snapshots(name))
        self.assertIsNotNone(self.driver.client._handle)
        self.assertIsNot(first_handle, self.driver.client._handle)
        self.assertIn(name, self.driver.list_images())
