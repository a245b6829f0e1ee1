"""The file storage driver: the whole RBD-like lifecycle on real files."""

import json
import multiprocessing
import os
import threading
from unittest import mock

from m2.common import exception
from m2.drivers.storage import file as file_storage
from m2.drivers.storage import fileops
from m2.tests import base

MiB = 1024 * 1024


class FileStorageTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.store = os.path.join(self.state_path, 'images')
        self.config(path=self.store, group='file_storage')
        self.config(chunk_size=64 * 1024, group='storage')
        self.driver = file_storage.FileStorageDriver()

    def _read(self, name, snapshot=None):
        return b''.join(self.driver.read_image(name, snapshot))

    def _golden(self, name='gold', data=b'golden-bytes', size=4 * MiB):
        self.driver.create_image(name, size)
        self.driver.write_image(name, [data])
        self.driver.create_snapshot(name, 'snap')
        self.driver.protect_snapshot(name, 'snap')


class TestImages(FileStorageTestCase):

    def test_init_creates_directory(self):
        self.assertTrue(os.path.isdir(self.store))

    def test_create_is_sparse_and_sized(self):
        self.driver.create_image('img1', 64 * MiB)
        self.assertTrue(self.driver.image_exists('img1'))
        self.assertEqual(64 * MiB, self.driver.get_size('img1'))
        st = os.stat(os.path.join(self.store, 'img1'))
        self.assertEqual(0, st.st_blocks)

    def test_create_existing_refused(self):
        self.driver.create_image('img1', MiB)
        self.assertRaises(exception.StorageImageExists, self.driver.create_image, 'img1', MiB)

    def test_create_bad_size(self):
        for size in (-1, 1.5, '10', True):
            self.assertRaises(exception.Invalid, self.driver.create_image, 'img1', size)
        self.assertFalse(self.driver.image_exists('img1'))

    def test_list_images_only_images(self):
        self._golden()
        self.driver.clone('gold', 'snap', 'child')
        self.assertEqual(['child', 'gold'], self.driver.list_images())
        # No temp files left behind either.
        self.assertEqual([], [e for e in os.listdir(self.store) if e.startswith('.tmp-')])

    def test_write_and_read_roundtrip(self):
        self.driver.create_image('img1', 3 * 64 * 1024)
        data = os.urandom(64 * 1024) + b'\0' * 64 * 1024 + b'tail'
        done = []
        self.driver.write_image('img1', [data[:100000], data[100000:]], progress=done.append)
        self.assertEqual([100000, len(data)], done)
        got = self._read('img1')
        self.assertEqual(3 * 64 * 1024, len(got))
        self.assertEqual(data, got[:len(data)])
        self.assertEqual(b'\0' * (len(got) - len(data)), got[len(data):])

    def test_read_streams_in_chunks(self):
        self.driver.create_image('img1', 256 * 1024)
        chunks = list(self.driver.read_image('img1'))
        self.assertEqual([64 * 1024] * 4, [len(c) for c in chunks])
        chunks = list(self.driver.read_image('img1', chunk_size=100 * 1024))
        self.assertEqual([100 * 1024, 100 * 1024, 56 * 1024], [len(c) for c in chunks])

    def test_write_zeros_keeps_holes_but_overwrites_data(self):
        self.driver.create_image('img1', 8 * MiB)
        self.driver.write_image('img1', [b'\0' * MiB] * 8)
        self.assertEqual(0, os.stat(os.path.join(self.store, 'img1')).st_blocks)
        self.driver.write_image('img1', [b'x' * 4096])
        self.driver.write_image('img1', [b'\0' * 4096])
        self.assertEqual(b'\0' * 4096, self._read('img1')[:4096])

    def test_write_too_large_refused(self):
        self.driver.create_image('img1', 10)
        self.assertRaises(exception.Invalid, self.driver.write_image, 'img1', [b'x' * 11])

    def test_not_found(self):
        nf = exception.StorageImageNotFound
        self.assertFalse(self.driver.image_exists('nope'))
        self.assertRaises(nf, self.driver.get_size, 'nope')
        self.assertRaises(nf, self.driver.write_image, 'nope', [b'x'])
        self.assertRaises(nf, self.driver.read_image, 'nope')
        self.assertRaises(nf, self.driver.list_snapshots, 'nope')
        self.assertRaises(nf, self.driver.create_snapshot, 'nope', 's')
        self.assertRaises(nf, self.driver.protect_snapshot, 'nope', 's')
        self.assertRaises(nf, self.driver.clone, 'nope', 's', 'c')
        self.assertRaises(nf, self.driver.flatten, 'nope')
        self.assertRaises(nf, self.driver.get_parent, 'nope')
        self.assertRaises(nf, self.driver.backing_store, 'nope')
        self.driver.create_image('img1', MiB)
        snf = exception.StorageSnapshotNotFound
        self.assertRaises(snf, self.driver.read_image, 'img1', 's')
        self.assertRaises(snf, self.driver.protect_snapshot, 'img1', 's')
        self.assertRaises(snf, self.driver.clone, 'img1', 's', 'c')

    def test_backing_store(self):
        self.driver.create_image('img1', MiB)
        path = os.path.join(os.path.realpath(self.store), 'img1')
        self.assertEqual({'type': 'file', 'path': path}, self.driver.backing_store('img1'))

    def test_remove_idempotent(self):
        self.driver.create_image('img1', MiB)
        self.driver.remove_image('img1')
        self.assertFalse(self.driver.image_exists('img1'))
        self.assertFalse(os.path.exists(os.path.join(self.store, '.meta', 'img1.json')))
        self.driver.remove_image('img1')

    def test_remove_with_snapshots_refused(self):
        self.driver.create_image('img1', MiB)
        self.driver.create_snapshot('img1', 's1')
        self.assertRaises(exception.StorageHasSnapshots, self.driver.remove_image, 'img1')
        self.assertTrue(self.driver.image_exists('img1'))

    def test_remove_busy_refused(self):
        self.driver.create_image('img1', MiB)
        # Stand in for a tgtd serving it: any process holding it open.
        with open(os.path.join(self.store, 'img1'), 'rb'):
            exc = self.assertRaises(exception.StorageImageBusy, self.driver.remove_image, 'img1')
            self.assertIn(str(os.getpid()), str(exc))
        self.driver.remove_image('img1')
        self.assertFalse(self.driver.image_exists('img1'))

    def test_path_traversal_names_refused(self):
        outside = os.path.join(self.state_path, 'victim')
        with open(outside, 'wb') as f:
            f.write(b'keep')
        bad = ['../victim', '..', '.meta', '/etc/passwd', 'a/b', 'a@b', '', '.hidden',
               'x' * 200, 'a..b', 'sp ace', None]
        for name in bad:
            for call in (lambda n: self.driver.create_image(n, 1),
                         self.driver.image_exists, self.driver.remove_image,
                         self.driver.get_size, self.driver.backing_store,
                         lambda n: self.driver.create_snapshot('img', n),
                         lambda n: self.driver.remove_snapshot(n, 's'),
                         lambda n: self.driver.clone('img', 's', n)):
                self.assertRaises(exception.Invalid, call, name)
        with open(outside, 'rb') as f:
            self.assertEqual(b'keep', f.read())

    def test_symlink_escape_refused(self):
        os.symlink('/etc/hostname', os.path.join(self.store, 'link'))
        self.assertRaises(exception.Invalid, self.driver.remove_image, 'link')
        self.assertTrue(os.path.exists('/etc/hostname'))

    def test_os_errors_become_backend_errors(self):
        self.driver.create_image('img1', MiB)
        with mock.patch.object(fileops, 'pwrite_all', side_effect=OSError(28, 'No space')):
            self.assertRaises(exception.BackendError, self.driver.write_image, 'img1', [b'x'])


class TestSnapshotsAndClones(FileStorageTestCase):

    def test_full_lifecycle(self):
        d = self.driver
        d.create_image('gold', 4 * MiB)
        d.write_image('gold', [b'A' * 4096])
        d.create_snapshot('gold', 'snap')
        d.create_snapshot('gold', 'snap')  # idempotent
        self.assertEqual([{'name': 'snap', 'protected': False}], d.list_snapshots('gold'))
        self.assertRaises(exception.SnapshotNotProtected, d.clone, 'gold', 'snap', 'node1')
        d.protect_snapshot('gold', 'snap')
        d.protect_snapshot('gold', 'snap')  # idempotent
        self.assertEqual([{'name': 'snap', 'protected': True}], d.list_snapshots('gold'))

        d.clone('gold', 'snap', 'node1')
        self.assertRaises(exception.StorageImageExists, d.clone, 'gold', 'snap', 'node1')
        self.assertEqual(('gold', 'snap'), d.get_parent('node1'))
        self.assertIsNone(d.get_parent('gold'))
        self.assertEqual(['node1'], d.list_children('gold', 'snap'))
        self.assertEqual(4 * MiB, d.get_size('node1'))

        # Clone isolation: writes to the clone leave the parent and snapshot alone.
        d.write_image('node1', [b'B' * 4096])
        self.assertEqual(b'A' * 4096, self._read('gold')[:4096])
        self.assertEqual(b'A' * 4096, self._read('gold', 'snap')[:4096])
        self.assertEqual(b'B' * 4096, self._read('node1')[:4096])
        # ...and writes to the parent leave the snapshot and clone alone.
        d.write_image('gold', [b'C' * 4096])
        self.assertEqual(b'A' * 4096, self._read('gold', 'snap')[:4096])
        self.assertEqual(b'B' * 4096, self._read('node1')[:4096])

        self.assertRaises(exception.SnapshotProtected, d.remove_snapshot, 'gold', 'snap')
        exc = self.assertRaises(exception.StorageHasChildren, d.unprotect_snapshot, 'gold', 'snap')
        self.assertIn('node1', str(exc))
        self.assertRaises(exception.StorageHasSnapshots, d.remove_image, 'gold')

        d.flatten('node1')
        d.flatten('node1')  # no parent: no-op
        self.assertIsNone(d.get_parent('node1'))
        self.assertEqual([], d.list_children('gold', 'snap'))
        self.assertEqual(b'B' * 4096, self._read('node1')[:4096])

        d.unprotect_snapshot('gold', 'snap')
        d.unprotect_snapshot('gold', 'snap')  # idempotent
        d.remove_snapshot('gold', 'snap')
        d.remove_snapshot('gold', 'snap')  # idempotent
        self.assertEqual([], d.list_snapshots('gold'))
        d.remove_image('gold')
        d.remove_image('node1')
        self.assertEqual([], d.list_images())
        self.assertEqual([], os.listdir(os.path.join(self.store, '.meta')))

    def test_removing_child_releases_parent(self):
        self._golden()
        self.driver.clone('gold', 'snap', 'node1')
        self.driver.clone('gold', 'snap', 'node2')
        self.assertEqual(['node1', 'node2'], self.driver.list_children('gold', 'snap'))
        self.driver.remove_image('node1')
        self.assertEqual(['node2'], self.driver.list_children('gold', 'snap'))
        self.driver.remove_image('node2')
        self.driver.unprotect_snapshot('gold', 'snap')

    def test_children_of_other_snapshot_do_not_count(self):
        self._golden()
        self.driver.create_snapshot('gold', 'other')
        self.driver.protect_snapshot('gold', 'other')
        self.driver.clone('gold', 'other', 'node1')
        self.assertEqual([], self.driver.list_children('gold', 'snap'))
        self.driver.unprotect_snapshot('gold', 'snap')

    def test_snapshot_is_read_only_file(self):
        self._golden()
        path = os.path.join(self.store, 'gold@snap')
        self.assertEqual(0o444, os.stat(path).st_mode & 0o777)

    def test_remove_snapshot_of_missing_image_is_success(self):
        self.driver.remove_snapshot('ghost', 'snap')
        self.driver.unprotect_snapshot('ghost', 'snap')
        self.assertEqual([], self.driver.list_children('ghost', 'snap'))

    def test_recreated_snapshot_is_not_protected(self):
        self._golden()
        self.driver.unprotect_snapshot('gold', 'snap')
        self.driver.remove_snapshot('gold', 'snap')
        self.driver.create_snapshot('gold', 'snap')
        self.assertEqual([{'name': 'snap', 'protected': False}],
                         self.driver.list_snapshots('gold'))

    def test_clone_of_clone_snapshot(self):
        self._golden()
        self.driver.clone('gold', 'snap', 'node1')
        self.driver.write_image('node1', [b'node1-write'])
        self.driver.create_snapshot('node1', 'tmp')
        self.driver.protect_snapshot('node1', 'tmp')
        self.driver.clone('node1', 'tmp', 'copy')
        self.driver.flatten('copy')
        self.assertEqual(b'node1-write', self._read('copy')[:11])

    def test_sparse_copy_keeps_holes(self):
        size = 64 * MiB
        self.driver.create_image('gold', size)
        self.driver.write_image('gold', [b'head' + b'\0' * (MiB - 4)])
        with open(os.path.join(self.store, 'gold'), 'r+b') as f:
            f.seek(32 * MiB)
            f.write(b'middle')
        self.driver.create_snapshot('gold', 'snap')
        self.driver.protect_snapshot('gold', 'snap')
        self.driver.clone('gold', 'snap', 'node1')
        for name in ('gold@snap', 'node1'):
            st = os.stat(os.path.join(self.store, name))
            self.assertEqual(size, st.st_size)
            # Two 4 KiB data blocks (rounded to the 64 KiB zero-check
            # granularity), nowhere near the 64 MiB a dense copy allocates.
            self.assertLess(st.st_blocks * 512, 512 * 1024, name)
        data = self._read('node1')
        self.assertEqual(b'head', data[:4])
        self.assertEqual(b'middle', data[32 * MiB:32 * MiB + 6])
        self.assertEqual(size, len(data))

    def test_sparse_copy_skips_allocated_zero_blocks(self):
        src = os.path.join(self.state_path, 'dense')
        with open(src, 'wb') as f:
            f.write(b'\0' * 4 * MiB + b'end')
            f.flush()
            os.fsync(f.fileno())
        self.assertGreater(os.stat(src).st_blocks * 512, 4 * MiB - 1)
        dst = os.path.join(self.state_path, 'copy')
        with open(src, 'rb') as s, open(dst, 'wb') as d:
            with mock.patch.object(fileops.fcntl, 'ioctl', side_effect=OSError(95, 'no')):
                self.assertEqual('sparse', fileops.copy_file(s.fileno(), d.fileno(), MiB))
        self.assertLess(os.stat(dst).st_blocks * 512, 256 * 1024)
        with open(dst, 'rb') as f:
            self.assertEqual(b'\0' * 4 * MiB + b'end', f.read())

    def test_reflink_used_when_available(self):
        self.driver.create_image('gold', MiB)
        with mock.patch.object(fileops.fcntl, 'ioctl') as ioctl:
            self.driver.create_snapshot('gold', 'snap')
        self.assertEqual(fileops.FICLONE, ioctl.call_args[0][1])

    def test_clone_rechecks_after_copy(self):
        self._golden()
        real_copy = self.driver._copy_to_temp

        def unprotect_meanwhile(src, mode):
            tmp = real_copy(src, mode)
            self.driver.unprotect_snapshot('gold', 'snap')
            return tmp

        with mock.patch.object(self.driver, '_copy_to_temp', side_effect=unprotect_meanwhile):
            self.assertRaises(exception.SnapshotNotProtected,
                              self.driver.clone, 'gold', 'snap', 'node1')
        self.assertFalse(self.driver.image_exists('node1'))
        self.assertEqual(['gold'], self.driver.list_images())
        self.assertEqual([], [e for e in os.listdir(self.store) if e.startswith('.tmp-')])

    def test_stale_metadata_of_removed_clone_ignored(self):
        self._golden()
        self.driver.clone('gold', 'snap', 'node1')
        # A crash between removing the file and its metadata.
        os.unlink(os.path.join(self.store, 'node1'))
        self.assertEqual([], self.driver.list_children('gold', 'snap'))
        self.driver.unprotect_snapshot('gold', 'snap')

    def test_state_survives_new_driver(self):
        self._golden()
        self.driver.clone('gold', 'snap', 'node1')
        again = file_storage.FileStorageDriver()
        self.assertEqual(['gold', 'node1'], again.list_images())
        self.assertEqual([{'name': 'snap', 'protected': True}], again.list_snapshots('gold'))
        self.assertEqual(('gold', 'snap'), again.get_parent('node1'))
        with open(os.path.join(self.store, '.meta', 'node1.json')) as f:
            self.assertEqual({'image': 'gold', 'snapshot': 'snap'}, json.load(f)['parent'])

    def test_concurrent_clones(self):
        self._golden()
        errors = []

        def worker(i):
            try:
                self.driver.clone('gold', 'snap', 'node%d' % i)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([], errors)
        self.assertEqual(['node%d' % i for i in range(8)],
                         self.driver.list_children('gold', 'snap'))

    def test_concurrent_same_child_one_wins(self):
        self._golden()
        results = []

        def worker():
            try:
                self.driver.clone('gold', 'snap', 'node1')
                results.append('ok')
            except exception.StorageImageExists:
                results.append('exists')

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(['exists'] * 3 + ['ok'], sorted(results))

    def test_concurrent_processes(self):
        self._golden()
        ctx = multiprocessing.get_context('fork')

        def worker(i):
            driver = file_storage.FileStorageDriver()
            driver.clone('gold', 'snap', 'node%d' % i)
            driver.create_snapshot('node%d' % i, 's')
            driver.protect_snapshot('node%d' % i, 's')

        procs = [ctx.Process(target=worker, args=(i,)) for i in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        self.assertEqual([0] * 4, [p.exitcode for p in procs])
        self.assertEqual(['node0', 'node1', 'node2', 'node3'],
                         self.driver.list_children('gold', 'snap'))
        for i in range(4):
            self.assertEqual([{'name': 's', 'protected': True}],
                             self.driver.list_snapshots('node%d' % i))
