"""The ``file`` storage driver: RBD semantics on plain files in one directory.

Layout under ``[file_storage] path`` (a person can look at it)::

    <image>              the image: a raw, sparse file; what a target exports
    <image>@<snapshot>   a snapshot: a read-only (0444) copy of the image
    .meta/<image>.json   {"parent": {"image", "snapshot"} | null,
                          "snapshots": {<snapshot>: {"protected": bool}}}
    .lock                the store's lock file (flock)
    .tmp-*               copies in flight; renamed into place when complete

Storage names are validated names (letters, digits, ``._-``, starting with a
letter or digit), so ``@`` and a leading dot are ours: ``list_images`` returns
only the plain names. A snapshot or clone is a *reflink* (``FICLONE``: shared
extents, instant, copy-on-write) where the filesystem has them (XFS, btrfs) and
otherwise a *sparse copy* that copies only data extents (``SEEK_DATA`` /
``SEEK_HOLE``) and skips all-zero blocks, never a dense copy. Either way a
clone is a complete file, so ``flatten`` only forgets the parent link; the
parent link and protection flags are kept so that every RBD rule holds
(see ``m2.drivers.base.StorageDriver``).

A sparse copy of an image something is writing at the same time is not
point-in-time (a reflink is): snapshot a node's disk while the node is
quiet if its filesystem has no reflinks.

*Busy*: a file image is busy when a process on this host has it open (a
``tgtd`` serving it as a backing store, a download in progress), found by
reading ``/proc/<pid>/fd``. Removing it then would leave the target serving a
deleted inode, so ``remove_image`` refuses with ``StorageImageBusy``. It is
best effort: processes of other users (when not root) and other hosts sharing
the directory are not seen.
"""

import contextlib
import functools
import logging
import os
import tempfile

from m2.common import exception, utils
from m2.conf import CONF
from m2.drivers import base, jsonstate
from m2.drivers.storage import fileops

LOG = logging.getLogger(__name__)

META_DIR = '.meta'
LOCK_FILE = '.lock'
TMP_PREFIX = '.tmp-'
# Storage names are short, but an operator-chosen snapshot name may be up to
# 64 characters ([storage] snapshot_name); both must fit one file name.
NAME_MAX = 100


def _translate_os_errors(func):
    """Turn an unexpected OSError (disk full, permissions) into BackendError."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except OSError as exc:
            raise exception.BackendError(backend='file storage', reason=exc)
    return wrapper


class FileStorageDriver(base.StorageDriver):
    """Images as files; snapshots and clones as reflink-or-sparse copies."""

    name = 'file'

    def __init__(self):
        self.path = os.path.realpath(CONF.file_storage.path)
        os.makedirs(os.path.join(self.path, META_DIR), exist_ok=True)
        self._lock_path = os.path.join(self.path, LOCK_FILE)
        LOG.debug('File storage in %s', self.path)

    # -- paths and metadata --------------------------------------------------

    def _lock(self):
        """One lock for the store's metadata; never held while copying data."""
        return jsonstate.file_lock(self._lock_path)

    def _image_path(self, name):
        utils.validate_name(name, field='storage image name', max_length=NAME_MAX)
        return utils.safe_join(self.path, name)

    def _snap_path(self, name, snapshot):
        utils.validate_name(name, field='storage image name', max_length=NAME_MAX)
        utils.validate_name(snapshot, field='snapshot name', max_length=NAME_MAX)
        return utils.safe_join(self.path, '%s@%s' % (name, snapshot))

    def _meta_path(self, name):
        return utils.safe_join(self.path, META_DIR, name + '.json')

    def _meta(self, name):
        meta = jsonstate.read_json(self._meta_path(name)) or {}
        meta.setdefault('parent', None)
        meta.setdefault('snapshots', {})
        return meta

    def _save_meta(self, name, meta):
        jsonstate.write_json(self._meta_path(name), meta)

    def _require_image(self, name):
        path = self._image_path(name)
        if not os.path.isfile(path):
            raise exception.StorageImageNotFound(name=name)
        return path

    def _require_snapshot(self, name, snapshot):
        self._require_image(name)
        path = self._snap_path(name, snapshot)
        if not os.path.isfile(path):
            raise exception.StorageSnapshotNotFound(name=name, snapshot=snapshot)
        return path

    def _snapshot_names(self, name):
        prefix = name + '@'
        return sorted(e[len(prefix):] for e in os.listdir(self.path)
                      if e.startswith(prefix))

    def _children(self, name, snapshot):
        wanted = {'image': name, 'snapshot': snapshot}
        children = []
        for entry in os.listdir(os.path.join(self.path, META_DIR)):
            child = entry[:-len('.json')]
            if not entry.endswith('.json') or entry.startswith('.'):
                continue
            # Metadata outlives its image after a crash mid-remove: the
            # image file is the truth of existence.
            if (self._meta(child)['parent'] == wanted
                    and os.path.isfile(os.path.join(self.path, child))):
                children.append(child)
        return sorted(children)

    def _copy_to_temp(self, src_path, mode):
        """Copy ``src_path`` to a new hidden temp file in the store; return its path."""
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=TMP_PREFIX)
        try:
            with open(src_path, 'rb') as src:
                how = fileops.copy_file(src.fileno(), fd, CONF.storage.chunk_size)
            os.fsync(fd)
            os.fchmod(fd, mode)
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        os.close(fd)
        LOG.debug('Copied %s (%s)', src_path, how)
        return tmp

    @staticmethod
    def _commit(tmp, path):
        """Give the complete temp file its final name; never replaces one."""
        os.link(tmp, path)  # FileExistsError when the name is taken

    # -- images ------------------------------------------------------------

    @_translate_os_errors
    def list_images(self):
        images = []
        for entry in os.listdir(self.path):
            if entry.startswith('.') or '@' in entry:
                continue
            try:
                utils.validate_name(entry, max_length=NAME_MAX)
            except exception.InvalidName:
                continue  # not ours: nothing m2 creates has such a name
            if os.path.isfile(os.path.join(self.path, entry)):
                images.append(entry)
        return sorted(images)

    def image_exists(self, name):
        return os.path.isfile(self._image_path(name))

    @_translate_os_errors
    def get_size(self, name):
        try:
            return os.stat(self._image_path(name)).st_size
        except FileNotFoundError:
            raise exception.StorageImageNotFound(name=name)

    @_translate_os_errors
    def create_image(self, name, size):
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise exception.Invalid(reason='image size must be a whole number of bytes')
        path = self._image_path(name)
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=TMP_PREFIX)
        try:
            try:
                os.ftruncate(fd, size)  # sparse: no blocks allocated
                os.fchmod(fd, 0o644)
            finally:
                os.close(fd)
            with self._lock():
                if os.path.exists(path):
                    raise exception.StorageImageExists(name=name)
                self._save_meta(name, {'parent': None, 'snapshots': {}})
                self._commit(tmp, path)
        finally:
            os.unlink(tmp)
        LOG.info('Created file image %s (%d bytes)', name, size)

    @_translate_os_errors
    def write_image(self, name, chunks, progress=None):
        path = self._require_image(name)
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)

        def write_at(chunk, offset):
            # Zero blocks over a hole stay a hole, so uploads stay sparse;
            # over data they must be written.
            if fileops.is_hole(fd, offset, len(chunk)):
                fileops.write_nonzero(fd, chunk, offset)
            else:
                fileops.pwrite_all(fd, chunk, offset)

        try:
            written = base.write_chunks(name, os.fstat(fd).st_size, chunks, write_at, progress)
            os.fsync(fd)
        finally:
            os.close(fd)
        return written

    def read_image(self, name, snapshot=None, chunk_size=None):
        # Opened here, not in the generator, so a missing image is reported
        # when the call is made rather than at the first chunk.
        path = (self._require_snapshot(name, snapshot) if snapshot
                else self._require_image(name))
        try:
            f = open(path, 'rb')
        except FileNotFoundError:
            if snapshot:
                raise exception.StorageSnapshotNotFound(name=name, snapshot=snapshot)
            raise exception.StorageImageNotFound(name=name)
        return self._stream(f, chunk_size or CONF.storage.chunk_size)

    @staticmethod
    def _stream(f, chunk_size):
        with f:
            while True:
                chunk = f.read(chunk_size)
                if not chunk:
                    return
                yield chunk

    @_translate_os_errors
    def remove_image(self, name):
        path = self._image_path(name)
        with self._lock():
            if os.path.isfile(path):
                if self._snapshot_names(name):
                    raise exception.StorageHasSnapshots(name=name)
                pids = fileops.processes_using(path)
                if pids:
                    raise exception.StorageImageBusy(
                        name=name, reason='open by process %s' % ', '.join(map(str, pids)))
                os.unlink(path)
                LOG.info('Removed file image %s', name)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._meta_path(name))

    # -- snapshots -----------------------------------------------------------

    @_translate_os_errors
    def list_snapshots(self, name):
        self._require_image(name)
        protected = self._meta(name)['snapshots']
        return [{'name': s, 'protected': bool(protected.get(s, {}).get('protected'))}
                for s in self._snapshot_names(name)]

    @_translate_os_errors
    def create_snapshot(self, name, snapshot):
        snap_path = self._snap_path(name, snapshot)  # validates before any lookup
        image_path = self._require_image(name)
        if os.path.isfile(snap_path):
            return
        tmp = self._copy_to_temp(image_path, 0o444)
        try:
            with self._lock():
                self._require_image(name)
                if os.path.isfile(snap_path):
                    return  # another request made it meanwhile
                # A flag left by a crash mid-remove must not protect the new one.
                meta = self._meta(name)
                meta['snapshots'][snapshot] = {'protected': False}
                self._save_meta(name, meta)
                self._commit(tmp, snap_path)
        finally:
            os.unlink(tmp)
        LOG.info('Created snapshot %s@%s', name, snapshot)

    @_translate_os_errors
    def remove_snapshot(self, name, snapshot):
        snap_path = self._snap_path(name, snapshot)
        with self._lock():
            meta = self._meta(name)
            if meta['snapshots'].get(snapshot, {}).get('protected') and os.path.isfile(snap_path):
                raise exception.SnapshotProtected(name=name, snapshot=snapshot)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(snap_path)
                LOG.info('Removed snapshot %s@%s', name, snapshot)
            if snapshot in meta['snapshots'] and os.path.isfile(self._image_path(name)):
                del meta['snapshots'][snapshot]
                self._save_meta(name, meta)

    @_translate_os_errors
    def protect_snapshot(self, name, snapshot):
        with self._lock():
            self._require_snapshot(name, snapshot)
            meta = self._meta(name)
            meta['snapshots'].setdefault(snapshot, {})['protected'] = True
            self._save_meta(name, meta)

    @_translate_os_errors
    def unprotect_snapshot(self, name, snapshot):
        snap_path = self._snap_path(name, snapshot)
        with self._lock():
            if not os.path.isfile(snap_path):
                return
            meta = self._meta(name)
            if not meta['snapshots'].get(snapshot, {}).get('protected'):
                return
            children = self._children(name, snapshot)
            if children:
                raise exception.StorageHasChildren(name=name, snapshot=snapshot,
                                                   children=', '.join(children))
            meta['snapshots'][snapshot]['protected'] = False
            self._save_meta(name, meta)

    # -- clones --------------------------------------------------------------

    def _check_clone(self, parent, snapshot, child_path, child):
        snap_path = self._require_snapshot(parent, snapshot)
        if not self._meta(parent)['snapshots'].get(snapshot, {}).get('protected'):
            raise exception.SnapshotNotProtected(name=parent, snapshot=snapshot)
        if os.path.exists(child_path):
            raise exception.StorageImageExists(name=child)
        return snap_path

    @_translate_os_errors
    def clone(self, parent, snapshot, child):
        child_path = self._image_path(child)
        with self._lock():
            snap_path = self._check_clone(parent, snapshot, child_path, child)
        # The copy runs unlocked (it can take a while without reflinks); a
        # protected snapshot cannot disappear unless unprotected, which is
        # checked again before the clone is made visible.
        tmp = self._copy_to_temp(snap_path, 0o644)
        try:
            with self._lock():
                self._check_clone(parent, snapshot, child_path, child)
                self._save_meta(child, {'parent': {'image': parent, 'snapshot': snapshot},
                                        'snapshots': {}})
                self._commit(tmp, child_path)
        finally:
            os.unlink(tmp)
        LOG.info('Cloned %s@%s to %s', parent, snapshot, child)

    @_translate_os_errors
    def flatten(self, name):
        # The clone's data is already a whole copy: only the link goes.
        with self._lock():
            self._require_image(name)
            meta = self._meta(name)
            if meta['parent'] is not None:
                meta['parent'] = None
                self._save_meta(name, meta)
                LOG.info('Flattened %s', name)

    @_translate_os_errors
    def get_parent(self, name):
        self._require_image(name)
        parent = self._meta(name)['parent']
        return (parent['image'], parent['snapshot']) if parent else None

    @_translate_os_errors
    def list_children(self, name, snapshot):
        self._snap_path(name, snapshot)  # validates both names
        return self._children(name, snapshot)

    def backing_store(self, name):
        return {'type': 'file', 'path': self._require_image(name)}
