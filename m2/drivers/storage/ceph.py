"""The ``ceph`` storage driver: images, snapshots and clones in one RBD pool.

Images are RBD format 2 images with the ``[ceph] rbd_features`` (layering at
least); clones are copy-on-write children of a protected snapshot (clone
format 1, so protection means what the driver interface says). Everything goes
through :mod:`m2.drivers.storage.rbd_client`: one cluster connection per
process, configured timeouts, reconnect after failure, and every library
error turned into an ``m2.common.exception`` error (unreachable or timed-out
cluster -> ``BackendUnavailable``, 503).

Data is streamed in ``[storage] chunk_size`` pieces both ways, never whole.
"""

import logging

import tenacity

from m2.common import exception
from m2.conf import CONF
from m2.drivers import base
from m2.drivers.storage import rbd_client
from m2.drivers.storage.rbd_client import rbd

LOG = logging.getLogger(__name__)

_FEATURE_BITS = {
    'layering': 'RBD_FEATURE_LAYERING',
    'exclusive-lock': 'RBD_FEATURE_EXCLUSIVE_LOCK',
    'object-map': 'RBD_FEATURE_OBJECT_MAP',
    'fast-diff': 'RBD_FEATURE_FAST_DIFF',
    'deep-flatten': 'RBD_FEATURE_DEEP_FLATTEN',
}


def features_mask(names):
    """The feature bit mask for ``names``; layering is always included."""
    mask = 0
    for name in set(names) | {'layering'}:
        mask |= getattr(rbd, _FEATURE_BITS[name])
    return mask


class CephStorageDriver(base.StorageDriver):
    """Images in the RBD pool ``[ceph] pool`` of the cluster in ``[ceph] conffile``."""

    name = 'ceph'

    def __init__(self):
        if rbd is None:
            raise exception.DriverLoadError(
                kind='storage', name='ceph',
                reason='the rados/rbd Python bindings are not importable '
                       '(Debian python3-rados/python3-rbd; run tools/ceph.sh install)')
        conf = CONF.ceph
        self.pool = conf.pool
        self.conffile = conf.conffile
        self.user = conf.user
        self.keyring = conf.keyring
        self.features = features_mask(conf.rbd_features)
        # Connects lazily: a conductor starts even while Ceph is down.
        self.client = rbd_client.get_client(conf.conffile, conf.user, conf.keyring,
                                            conf.connect_timeout, conf.operation_timeout)

    def _image(self, name, snapshot=None, read_only=False):
        return self.client.open_image(self.pool, name, snapshot=snapshot, read_only=read_only)

    def _pool(self, name=None, snapshot=None):
        return self.client.pool(self.pool, name, snapshot)

    @staticmethod
    def _snap_names(image):
        """User snapshots only (clone v2 may leave some in the trash namespace)."""
        user_ns = getattr(rbd, 'RBD_SNAP_NAMESPACE_TYPE_USER', 0)
        return [s['name'] for s in image.list_snaps() if s.get('namespace', user_ns) == user_ns]

    # -- images ----------------------------------------------------------
    def list_images(self):
        with self._pool() as ioctx:
            return sorted(rbd.RBD().list(ioctx))

    def image_exists(self, name):
        try:
            with self._image(name, read_only=True):
                return True
        except exception.StorageImageNotFound:
            return False

    def get_size(self, name):
        with self._image(name, read_only=True) as image:
            return image.size()

    def create_image(self, name, size):
        with self._pool(name) as ioctx:
            rbd.RBD().create(ioctx, name, size, old_format=False, features=self.features)
        LOG.info('Created RBD image %s/%s (%d bytes)', self.pool, name, size)

    def write_image(self, name, chunks, progress=None):
        with self._image(name) as image:
            written = base.write_chunks(name, image.size(), chunks, image.write, progress)
            # Data is acknowledged by the OSDs per write; flush is for caches.
            image.flush()
        return written

    def read_image(self, name, snapshot=None, chunk_size=None):
        # Fail now, not at the first next(): callers answer 404 before streaming.
        self._check_snapshot(name, snapshot)
        return self._read(name, snapshot, chunk_size or CONF.storage.chunk_size)

    def _read(self, name, snapshot, chunk_size):
        with self._image(name, snapshot=snapshot, read_only=True) as image:
            size = image.size()
            offset = 0
            while offset < size:
                length = min(chunk_size, size - offset)
                yield image.read(offset, length)
                offset += length

    def _check_snapshot(self, name, snapshot):
        """Raise the precise NotFound for ``name`` or ``name@snapshot``."""
        with self._image(name, read_only=True) as image:
            if snapshot is not None and snapshot not in self._snap_names(image):
                raise exception.StorageSnapshotNotFound(name=name, snapshot=snapshot)

    def remove_image(self, name):
        # Only watchers make RBD refuse with ImageBusy here (snapshots give
        # StorageHasSnapshots). A live watcher is a real conflict, but the
        # watch of a gateway that crashed lingers until the OSDs time it out,
        # so keep trying for [ceph] busy_timeout before saying busy.
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_delay(CONF.ceph.busy_timeout),
            wait=tenacity.wait_exponential(multiplier=0.5, max=5),
            retry=tenacity.retry_if_exception_type(exception.StorageImageBusy),
            before_sleep=lambda state: LOG.info(
                'RBD image %s/%s still has watchers (%s); retrying removal',
                self.pool, name, state.outcome.exception()),
            reraise=True)
        try:
            retrying(self._remove_image, name)
        except exception.StorageImageNotFound:
            LOG.debug('RBD image %s already gone', name)
            return
        LOG.info('Removed RBD image %s/%s', self.pool, name)

    def _remove_image(self, name):
        with self._pool(name) as ioctx:
            rbd.RBD().remove(ioctx, name)

    # -- snapshots -------------------------------------------------------
    def list_snapshots(self, name):
        with self._image(name, read_only=True) as image:
            return [{'name': snap, 'protected': image.is_protected_snap(snap)}
                    for snap in self._snap_names(image)]

    def create_snapshot(self, name, snapshot):
        with self._image(name) as image:
            if snapshot in self._snap_names(image):
                return
            try:
                image.create_snap(snapshot)
            except rbd.ImageExists:  # made by a racing caller: same outcome
                return
        LOG.info('Created snapshot %s@%s', name, snapshot)

    def remove_snapshot(self, name, snapshot):
        try:
            with self._image(name) as image:
                if snapshot not in self._snap_names(image):
                    return
                if image.is_protected_snap(snapshot):
                    raise exception.SnapshotProtected(name=name, snapshot=snapshot)
                try:
                    image.remove_snap(snapshot)
                except rbd.ImageBusy:  # protected since we looked
                    raise exception.SnapshotProtected(name=name, snapshot=snapshot)
                except rbd.ImageNotFound:  # removed since we looked
                    return
        except exception.StorageImageNotFound:
            return
        LOG.info('Removed snapshot %s@%s', name, snapshot)

    def protect_snapshot(self, name, snapshot):
        with self._image(name) as image:
            if snapshot not in self._snap_names(image):
                raise exception.StorageSnapshotNotFound(name=name, snapshot=snapshot)
            if image.is_protected_snap(snapshot):
                return
            try:
                image.protect_snap(snapshot)
            except rbd.ImageBusy:  # protected by a racing caller
                return

    def unprotect_snapshot(self, name, snapshot):
        try:
            with self._image(name) as image:
                if snapshot not in self._snap_names(image):
                    return
                if not image.is_protected_snap(snapshot):
                    return
                try:
                    image.unprotect_snap(snapshot)
                except rbd.ImageBusy:
                    children = self.list_children(name, snapshot)
                    raise exception.StorageHasChildren(
                        name=name, snapshot=snapshot,
                        children=', '.join(children) or 'unknown')
                except rbd.InvalidArgument:  # unprotected since we looked
                    return
        except exception.StorageImageNotFound:
            return

    # -- clones ----------------------------------------------------------
    def clone(self, parent, snapshot, child):
        with self._image(parent, read_only=True) as image:
            if snapshot not in self._snap_names(image):
                raise exception.StorageSnapshotNotFound(name=parent, snapshot=snapshot)
            if not image.is_protected_snap(snapshot):
                raise exception.SnapshotNotProtected(name=parent, snapshot=snapshot)
        with self._pool(child) as ioctx:
            try:
                rbd.RBD().clone(ioctx, parent, snapshot, ioctx, child, features=self.features)
            except rbd.InvalidArgument:  # unprotected since we looked (clone v1)
                raise exception.SnapshotNotProtected(name=parent, snapshot=snapshot)
            except rbd.ImageNotFound:  # parent or snapshot removed since we looked
                raise exception.StorageSnapshotNotFound(name=parent, snapshot=snapshot)
        LOG.info('Cloned %s@%s into %s', parent, snapshot, child)

    def flatten(self, name):
        with self._image(name) as image:
            if self._parent_of(image) is None:
                return
            image.flatten()
        LOG.info('Flattened %s', name)

    def get_parent(self, name):
        with self._image(name, read_only=True) as image:
            return self._parent_of(image)

    @staticmethod
    def _parent_of(image):
        try:
            if hasattr(image, 'get_parent_image_spec'):
                spec = image.get_parent_image_spec()
                return spec['image_name'], spec['snap_name']
            _pool, parent, snap = image.parent_info()
            return parent, snap
        except rbd.ImageNotFound:  # librbd's way of saying "no parent"
            return None

    def list_children(self, name, snapshot):
        try:
            with self._image(name, snapshot=snapshot, read_only=True) as image:
                if hasattr(image, 'list_children2'):
                    found = [(c['pool'], c['image']) for c in image.list_children2()
                             if not c.get('trash')]
                else:
                    found = list(image.list_children())
        except (exception.StorageImageNotFound, exception.StorageSnapshotNotFound):
            return []
        # A clone in another pool (made outside m2) is named pool/image.
        return sorted(img if pool == self.pool else '%s/%s' % (pool, img)
                      for pool, img in found)

    def backing_store(self, name):
        if not self.image_exists(name):
            raise exception.StorageImageNotFound(name=name)
        backing = {'type': 'rbd', 'pool': self.pool, 'image': name,
                   'conf': self.conffile, 'user': self.user}
        if self.keyring:
            backing['keyring'] = self.keyring
        return backing
