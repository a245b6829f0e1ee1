"""How the ceph driver maps rados/rbd errors onto m2 exceptions.

The bindings are replaced by small fake modules with the same exception
tree, so these run without Ceph; the real behaviour is covered by
``m2/tests/functional/test_ceph_driver.py``.
"""

import errno
import types
from unittest import mock

from m2.common import exception
from m2.drivers.storage import ceph as ceph_driver
from m2.drivers.storage import rbd_client
from m2.tests import base


def _fake_modules():
    def tree(prefix, names):
        mod = types.SimpleNamespace()

        class Error(Exception):
            def __init__(self, message='', errno=None):
                super().__init__(message)
                self.errno = errno

        class OSError_(Error):
            pass

        mod.Error, mod.OSError = Error, OSError_
        for name, code in names.items():
            setattr(mod, name, type(name, (OSError_,), {'__init__': _with_errno(code)}))
        return mod

    def _with_errno(code):
        def __init__(self, message='', errno=code):
            Exception.__init__(self, message)
            self.errno = errno
        return __init__

    fake_rados = tree('rados', {
        'TimedOut': errno.ETIMEDOUT, 'ConnectionShutdown': errno.ESHUTDOWN,
        'ObjectNotFound': errno.ENOENT, 'ObjectExists': errno.EEXIST,
        'ObjectBusy': errno.EBUSY, 'PermissionError': errno.EPERM,
        'NoSpace': errno.ENOSPC, 'IOError': errno.EIO,
    })
    fake_rados.NotConnected = type('NotConnected', (fake_rados.Error,), {})
    fake_rbd = tree('rbd', {
        'ImageNotFound': errno.ENOENT, 'ImageExists': errno.EEXIST,
        'ImageBusy': errno.EBUSY, 'ImageHasSnapshots': errno.ENOTEMPTY,
        'InvalidArgument': errno.EINVAL, 'Timeout': errno.ETIMEDOUT,
        'ConnectionShutdown': errno.ESHUTDOWN, 'PermissionError': errno.EPERM,
        'NoSpace': errno.ENOSPC, 'DiskQuotaExceeded': errno.EDQUOT,
        'ReadOnlyImage': errno.EROFS,
    })
    fake_rbd.RBD_FEATURE_LAYERING = 1
    fake_rbd.RBD_FEATURE_EXCLUSIVE_LOCK = 4
    fake_rbd.RBD_FEATURE_OBJECT_MAP = 8
    fake_rbd.RBD_FEATURE_FAST_DIFF = 16
    fake_rbd.RBD_FEATURE_DEEP_FLATTEN = 32
    fake_rbd.RBD_SNAP_NAMESPACE_TYPE_USER = 0
    return fake_rados, fake_rbd


class FakeImage:
    """One image with snapshots; ``fail`` maps a method name to an exception."""

    def __init__(self, snaps=None, fail=None):
        self.snaps = dict(snaps or {})  # name -> protected
        self.fail = fail or {}
        self.closed = False

    def _maybe_fail(self, method):
        if method in self.fail:
            raise self.fail[method]

    def list_snaps(self):
        return [{'name': n, 'namespace': 0} for n in self.snaps]

    def is_protected_snap(self, snap):
        return self.snaps[snap]

    def __getattr__(self, method):
        if method in ('create_snap', 'remove_snap', 'protect_snap', 'unprotect_snap',
                      'flatten', 'size', 'write', 'read', 'get_parent_image_spec',
                      'list_children2', 'flush'):
            def call(*args, **kwargs):
                self._maybe_fail(method)
                return None
            return call
        raise AttributeError(method)

    def close(self):
        self.closed = True


class CephErrorMappingTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.rados, self.rbd = _fake_modules()
        self.useFixture_patch(rbd_client, 'rados', self.rados)
        self.useFixture_patch(rbd_client, 'rbd', self.rbd)
        self.useFixture_patch(ceph_driver, 'rbd', self.rbd)
        self.cluster = mock.Mock()
        self.rados.Rados = mock.Mock(return_value=self.cluster)
        self.images = {}
        self.rbd.Image = self._open
        self.rbd.RBD = mock.Mock()
        self.rbd.RBD.return_value.list.return_value = []
        self.addCleanup(rbd_client.close_all)
        self.config(pool='p', conffile='/etc/ceph/ceph.conf', user='m2', group='ceph')
        self.driver = ceph_driver.CephStorageDriver()

    def useFixture_patch(self, obj, attr, value):
        patcher = mock.patch.object(obj, attr, value)
        patcher.start()
        self.addCleanup(patcher.stop)

    def _open(self, ioctx, name, snapshot=None, read_only=False):
        if name not in self.images:
            raise self.rbd.ImageNotFound('error opening image %s' % name)
        image = self.images[name]
        if snapshot is not None and snapshot not in image.snaps:
            raise self.rbd.ImageNotFound('error setting snapshot context')
        return image

    # -- context-free mapping --------------------------------------------
    def test_to_domain(self):
        r, b = self.rados, self.rbd
        cases = [
            (b.ImageNotFound(), exception.StorageImageNotFound, 404),
            (r.ObjectNotFound(), exception.StorageImageNotFound, 404),
            (b.ImageExists(), exception.StorageImageExists, 409),
            (b.ImageBusy(), exception.StorageImageBusy, 409),
            (b.ImageHasSnapshots(), exception.StorageHasSnapshots, 409),
            (b.Timeout(), exception.BackendUnavailable, 503),
            (b.ConnectionShutdown(), exception.BackendUnavailable, 503),
            (r.TimedOut(), exception.BackendUnavailable, 503),
            (r.ConnectionShutdown(), exception.BackendUnavailable, 503),
            (r.NotConnected(), exception.BackendUnavailable, 503),
            (b.OSError('x', errno=errno.ECONNREFUSED), exception.BackendUnavailable, 503),
            (b.OSError('x', errno=-errno.ETIMEDOUT), exception.BackendUnavailable, 503),
            (b.PermissionError(), exception.BackendError, 500),
            (b.NoSpace(), exception.BackendError, 500),
            (b.ReadOnlyImage(), exception.BackendError, 500),
            (b.InvalidArgument(), exception.BackendError, 500),
            (r.IOError(), exception.BackendError, 500),
        ]
        for error, expected, code in cases:
            mapped = rbd_client.to_domain(error, 'img')
            self.assertIsInstance(mapped, expected, type(error).__name__)
            self.assertEqual(code, mapped.code)
        mapped = rbd_client.to_domain(b.ImageNotFound(), 'img', 'snap')
        self.assertIsInstance(mapped, exception.StorageSnapshotNotFound)
        self.assertIn('img', str(mapped))
        self.assertIn('snap', str(mapped))
        already = exception.SnapshotProtected(name='a', snapshot='b')
        self.assertIs(already, rbd_client.to_domain(already))

    # -- through the driver ------------------------------------------------
    def test_missing_image_and_snapshot(self):
        self.assertRaises(exception.StorageImageNotFound, self.driver.get_size, 'img')
        self.assertFalse(self.driver.image_exists('img'))
        self.images['img'] = FakeImage()
        self.assertRaises(exception.StorageSnapshotNotFound,
                          self.driver.protect_snapshot, 'img', 's')
        self.assertRaises(exception.StorageSnapshotNotFound,
                          self.driver.read_image, 'img', 's')
        self.assertEqual([], self.driver.list_children('img', 's'))

    def test_create_exists(self):
        self.rbd.RBD.return_value.create.side_effect = self.rbd.ImageExists()
        self.assertRaises(exception.StorageImageExists, self.driver.create_image, 'img', 1)

    def test_remove_mappings(self):
        remove = self.rbd.RBD.return_value.remove
        remove.side_effect = self.rbd.ImageNotFound()
        self.driver.remove_image('img')  # already gone: success
        remove.side_effect = self.rbd.ImageHasSnapshots()
        self.assertRaises(exception.StorageHasSnapshots, self.driver.remove_image, 'img')
        self.config(group='ceph', busy_timeout=0)
        remove.reset_mock()
        remove.side_effect = self.rbd.ImageBusy('image still has watchers')
        exc = self.assertRaises(exception.StorageImageBusy, self.driver.remove_image, 'img')
        self.assertIn('watchers', str(exc))
        self.assertEqual(1, remove.call_count)  # busy_timeout 0: no retry

    def test_remove_retries_while_busy(self):
        # A crashed gateway's watch goes away by itself after a while.
        self.config(group='ceph', busy_timeout=30)
        remove = self.rbd.RBD.return_value.remove
        remove.side_effect = [self.rbd.ImageBusy('watchers'), self.rbd.ImageBusy('watchers'),
                              None]
        self.driver.remove_image('img')
        self.assertEqual(3, remove.call_count)

    def test_remove_snapshot_protected_is_snapshot_protected(self):
        image = self.images['img'] = FakeImage({'s': False},
                                               fail={'remove_snap': self.rbd.ImageBusy()})
        self.assertRaises(exception.SnapshotProtected, self.driver.remove_snapshot, 'img', 's')
        image.snaps['s'] = True
        self.assertRaises(exception.SnapshotProtected, self.driver.remove_snapshot, 'img', 's')
        self.assertTrue(image.closed)
        self.driver.remove_snapshot('img', 'gone')
        self.driver.remove_snapshot('nosuchimage', 's')

    def test_unprotect_with_children(self):
        self.images['img'] = FakeImage({'s': True},
                                       fail={'unprotect_snap': self.rbd.ImageBusy()})
        with mock.patch.object(self.driver, 'list_children', return_value=['n1', 'n2']):
            exc = self.assertRaises(exception.StorageHasChildren,
                                    self.driver.unprotect_snapshot, 'img', 's')
        self.assertIn('n1, n2', str(exc))
        self.driver.unprotect_snapshot('nosuchimage', 's')

    def test_clone_of_unprotected_snapshot(self):
        self.images['img'] = FakeImage({'s': False})
        self.assertRaises(exception.SnapshotNotProtected, self.driver.clone, 'img', 's', 'c')
        self.rbd.RBD.return_value.clone.assert_not_called()
        # Unprotected between the check and the clone: librbd says EINVAL.
        self.images['img'].snaps['s'] = True
        self.rbd.RBD.return_value.clone.side_effect = self.rbd.InvalidArgument()
        self.assertRaises(exception.SnapshotNotProtected, self.driver.clone, 'img', 's', 'c')
        self.rbd.RBD.return_value.clone.side_effect = self.rbd.ImageExists()
        self.assertRaises(exception.StorageImageExists, self.driver.clone, 'img', 's', 'c')
        self.assertRaises(exception.StorageSnapshotNotFound, self.driver.clone, 'img', 'x', 'c')
        self.assertRaises(exception.StorageImageNotFound, self.driver.clone, 'nope', 's', 'c')

    def test_timeout_is_503_and_drops_connection(self):
        self.images['img'] = FakeImage(fail={'create_snap': self.rbd.Timeout('timed out')})
        self.driver.list_images()
        self.assertEqual(1, self.rados.Rados.call_count)
        exc = self.assertRaises(exception.BackendUnavailable,
                                self.driver.create_snapshot, 'img', 's')
        self.assertEqual(503, exc.code)
        self.cluster.shutdown.assert_called_once_with()
        self.assertIsNone(self.driver.client._handle)
        self.driver.list_images()  # reconnects
        self.assertEqual(2, self.rados.Rados.call_count)

    def test_other_errors_keep_connection(self):
        self.images['img'] = FakeImage(fail={'flatten': self.rbd.PermissionError('denied')})
        self.images['img'].get_parent_image_spec = lambda: {'image_name': 'p', 'snap_name': 's'}
        exc = self.assertRaises(exception.BackendError, self.driver.flatten, 'img')
        self.assertIn('permission denied', str(exc))
        self.assertIsNotNone(self.driver.client._handle)
        self.cluster.shutdown.assert_not_called()

    def test_connect_failures_are_503(self):
        self.cluster.connect.side_effect = self.rados.TimedOut('error connecting')
        exc = self.assertRaises(exception.BackendUnavailable, self.driver.list_images)
        self.assertIn('client.m2', str(exc))
        self.cluster.connect.side_effect = self.rados.PermissionError('auth')
        self.assertRaises(exception.BackendUnavailable, self.driver.list_images)
        self.rados.Rados.side_effect = self.rados.ObjectNotFound('conf_read_file')
        self.assertRaises(exception.BackendUnavailable, self.driver.list_images)

    def test_missing_pool_is_503(self):
        self.cluster.open_ioctx.side_effect = self.rados.ObjectNotFound('no pool')
        exc = self.assertRaises(exception.BackendUnavailable, self.driver.list_images)
        self.assertIn('pool p', str(exc))

    def test_timeouts_and_features_from_config(self):
        self.config(connect_timeout=7, operation_timeout=9, keyring='/k',
                    rbd_features=['exclusive-lock'], group='ceph')
        driver = ceph_driver.CephStorageDriver()
        driver.list_images()
        kwargs = self.rados.Rados.call_args.kwargs
        self.assertEqual('m2', kwargs['rados_id'])
        self.assertEqual({'rados_mon_op_timeout': '9', 'rados_osd_op_timeout': '9',
                          'client_mount_timeout': '7', 'rbd_default_clone_format': '1',
                          'keyring': '/k'}, kwargs['conf'])
        self.cluster.connect.assert_called_with(timeout=7)
        self.assertEqual(1 | 4, driver.features)

    def test_missing_bindings_fail_fast(self):
        with mock.patch.object(ceph_driver, 'rbd', None):
            exc = self.assertRaises(exception.DriverLoadError, ceph_driver.CephStorageDriver)
        self.assertIn('tools/ceph.sh install', str(exc))
