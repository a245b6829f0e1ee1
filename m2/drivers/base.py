"""The four driver interfaces: storage, iSCSI, isolator and boot.

A driver is a class registered as a stevedore entry point in the
``m2.drivers.<kind>`` namespace and instantiated once per conductor with no
arguments (it reads ``m2.conf.CONF``). The conductor composes the verbs below
into operations; every verb is idempotent where its docstring says so, so a
step can be re-run or undone after a crash without error.

Every verb raises only ``m2.common.exception`` errors: a driver maps its
library's or command's failures onto them (``NotFound``-, ``Conflict``- and
``BackendUnavailable``-class errors in particular), so that the API can give
users the right status without knowing which driver is loaded.

Names given to drivers (storage names, IQNs, MACs, node names) are already
validated by the conductor with ``m2.common.utils``; drivers must still never
build a path or command line from them in a way that could escape (use
argument lists, never a shell, and resolve paths under their own directory).
"""

import abc

from m2.common import exception


class StorageDriver(abc.ABC):
    """Images, their snapshots and copy-on-write clones (RBD semantics).

    An *image* is a named block device. A *snapshot* ``image@snap`` is a
    read-only point-in-time view of it; a *protected* snapshot can be cloned
    and cannot be removed. A *clone* is a new image whose unwritten blocks
    come from its parent snapshot until it is *flattened*. Names are storage
    names chosen by the conductor (``<uid>img<id>``, ``<uid>node<id>``) or a
    validated name an operator gave (import sources, export targets).
    """

    #: Short name used in messages and the audit ("file", "ceph").
    name = 'storage'

    @abc.abstractmethod
    def list_images(self):
        """Return the names of every image in the store (a list of str)."""

    @abc.abstractmethod
    def image_exists(self, name):
        """Return True if image ``name`` exists."""

    @abc.abstractmethod
    def get_size(self, name):
        """Return the virtual size of ``name`` in bytes.

        :raises StorageImageNotFound:
        """

    @abc.abstractmethod
    def create_image(self, name, size):
        """Create an empty (sparse, zero-filled) image of ``size`` bytes.

        :raises StorageImageExists:
        """

    @abc.abstractmethod
    def write_image(self, name, chunks, progress=None):
        """Write an iterable of byte strings into ``name`` from offset 0.

        The image must exist and be large enough. ``progress(bytes_done)`` is
        called after each chunk when given. Drivers build it on
        :func:`write_chunks`.

        :raises StorageImageNotFound:
        :raises Invalid: the data is larger than the image.
        """

    @abc.abstractmethod
    def read_image(self, name, snapshot=None, chunk_size=None):
        """Yield the bytes of ``name`` (or of ``name@snapshot``) in chunks.

        Never holds the whole image in memory.

        :raises StorageImageNotFound, StorageSnapshotNotFound:
        """

    @abc.abstractmethod
    def remove_image(self, name):
        """Remove image ``name``. Already gone is success.

        :raises StorageHasSnapshots: the image still has snapshots.
        :raises StorageImageBusy: the image is open elsewhere (a live target).
        """

    @abc.abstractmethod
    def list_snapshots(self, name):
        """Return ``[{'name': str, 'protected': bool}]`` for image ``name``.

        :raises StorageImageNotFound:
        """

    @abc.abstractmethod
    def create_snapshot(self, name, snapshot):
        """Create snapshot ``name@snapshot``. Already there is success.

        :raises StorageImageNotFound:
        """

    @abc.abstractmethod
    def remove_snapshot(self, name, snapshot):
        """Remove ``name@snapshot``. Already gone (or image gone) is success.

        :raises SnapshotProtected: unprotect it first.
        """

    @abc.abstractmethod
    def protect_snapshot(self, name, snapshot):
        """Protect ``name@snapshot``. Already protected is success.

        :raises StorageImageNotFound, StorageSnapshotNotFound:
        """

    @abc.abstractmethod
    def unprotect_snapshot(self, name, snapshot):
        """Unprotect ``name@snapshot``. Not protected or gone is success.

        :raises StorageHasChildren: clones still depend on it.
        """

    @abc.abstractmethod
    def clone(self, parent, snapshot, child):
        """Create image ``child`` as a copy-on-write clone of ``parent@snapshot``.

        :raises StorageImageNotFound, StorageSnapshotNotFound:
        :raises SnapshotNotProtected:
        :raises StorageImageExists: ``child`` exists already.
        """

    @abc.abstractmethod
    def flatten(self, name):
        """Copy into ``name`` every block it still reads from its parent, so
        that it no longer depends on it. An image without parent is a no-op.

        :raises StorageImageNotFound:
        """

    @abc.abstractmethod
    def get_parent(self, name):
        """Return ``(parent, snapshot)`` of a clone, or None.

        :raises StorageImageNotFound:
        """

    @abc.abstractmethod
    def list_children(self, name, snapshot):
        """Return the names of the clones of ``name@snapshot`` not yet flattened."""

    @abc.abstractmethod
    def backing_store(self, name):
        """Describe how an iSCSI target exports image ``name``.

        Returns a dict with ``type`` and the fields of that type:
        ``{'type': 'file', 'path': '/abs/path'}`` or
        ``{'type': 'rbd', 'pool': p, 'image': name, 'conf': path, 'user': u}``.

        :raises StorageImageNotFound:
        """


class ISCSIDriver(abc.ABC):
    """iSCSI targets that export one node's disk to that node only."""

    name = 'iscsi'

    @abc.abstractmethod
    def create_target(self, iqn, backing, initiator_iqn, chap=None, readonly=False):
        """Export ``backing`` (from ``StorageDriver.backing_store``) as ``iqn``.

        The disk is LUN 1. Only ``initiator_iqn`` may log in (and, when
        ``chap`` is ``(user, secret)``, only with those credentials).
        Idempotent: the same target already there is success.

        :returns: ``{'iqn': iqn, 'portals': ['host:port', ...], 'lun': 1}``
        :raises TargetExists: ``iqn`` exists with another backing store.
        :raises BackendUnavailable: the target daemon cannot be reached.
        """

    @abc.abstractmethod
    def delete_target(self, iqn):
        """Remove target ``iqn`` (and its CHAP account), even while an
        initiator is logged in. Already gone is success."""

    @abc.abstractmethod
    def list_targets(self):
        """Return ``[{'iqn', 'backing' (path or pool/image), 'initiators': [...],
        'connections': int}]`` for every target this driver manages."""

    @abc.abstractmethod
    def portals(self):
        """Return the ``host:port`` portals nodes reach targets on."""


class IsolatorDriver(abc.ABC):
    """The network isolator: which network a node's NIC is on, and its power."""

    name = 'isolator'

    @abc.abstractmethod
    def get_nic_mac(self, node, nic):
        """Return the MAC of ``node``'s NIC labelled ``nic`` (lower case).

        :raises NodeNotFound, NicNotFound:
        """

    def default_network(self):
        """The provisioning network for projects that name none, or None
        (then the conductor leaves the node's network alone)."""
        return None

    @abc.abstractmethod
    def attach_network(self, node, nic, network, project=None, channel=None):
        """Connect the NIC to ``network`` and wait until that is done.
        Already attached to it is success.

        :raises NetworkNotFound, IsolatorConflict, BackendUnavailable:
        """

    @abc.abstractmethod
    def detach_network(self, node, nic, network, project=None):
        """Detach the NIC from ``network`` and wait until that is done.
        Not attached is success."""

    @abc.abstractmethod
    def power_cycle(self, node, boot_device='pxe'):
        """Set the next boot device and power-cycle ``node``."""

    @abc.abstractmethod
    def power_off(self, node):
        """Power ``node`` off. Already off is success."""


class BootDriver(abc.ABC):
    """The files that make a node network-boot from its target."""

    name = 'boot'

    @abc.abstractmethod
    def prepare(self, node):
        """Write ``node``'s boot files; return the paths written.

        ``node`` is a dict with ``name``, ``mac``, ``initiator_iqn``,
        ``target`` (``{'iqn', 'portals', 'lun'}``) and ``chap``
        (``(user, secret)`` or None). Overwrites previous files of that node.
        Never writes outside the driver's configured directory.
        """

    @abc.abstractmethod
    def clean(self, node):
        """Remove ``node``'s boot files (``node`` as in ``prepare``; only
        ``name`` and ``mac`` are needed). Already gone is success."""

    @abc.abstractmethod
    def list_nodes(self):
        """Return the MACs (lower case, colon-separated) that have boot files."""


def write_chunks(name, size, chunks, write_at, progress=None):
    """Feed ``chunks`` to ``write_at(chunk, offset)`` from offset 0; return
    the bytes written. The common loop of every ``write_image``.

    :raises Invalid: the data would pass the image's ``size``; nothing of
        the chunk that would is written.
    """
    offset = 0
    for chunk in chunks:
        if not chunk:
            continue
        if offset + len(chunk) > size:
            raise exception.Invalid(
                reason='data is larger than storage image %s (%d bytes)' % (name, size))
        write_at(chunk, offset)
        offset += len(chunk)
        if progress is not None:
            progress(offset)
    return offset
