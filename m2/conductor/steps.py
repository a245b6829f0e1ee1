"""The steps of every long operation, each with its undo.

Each builder returns the ordered ``workflow.Step`` list of one operation,
built only from the row (and its ``task_data``), so the manager can build
the same list to run an operation and, after a crash, to roll it back.
"""

import json
import os

from m2.common import exception, utils
from m2.conductor.workflow import Step
from m2.conf import CONF


def _golden():
    return CONF.storage.snapshot_name


def _ignore_missing(func, *args):
    """Call ``func``; a missing image or snapshot means nothing to undo.

    Only for verbs that are not idempotent by contract (protect, create):
    remove and unprotect already succeed on what is gone.
    """
    try:
        func(*args)
    except (exception.StorageImageNotFound, exception.StorageSnapshotNotFound):
        pass


def storage_copy_steps(storage, source, source_snapshot, dest, temp_snapshot,
                       snapshot_was_protected=True):
    """Make ``dest`` an independent, clonable copy of ``source``.

    Import, node snapshot and image copy are this one sequence: snapshot the
    source (or use the given ``source_snapshot``) → protect → clone → flatten
    → protected golden snapshot on the copy → drop the temporary snapshot (or
    unprotect the given one if we protected it). The source is left exactly
    as it was.
    """
    steps = []
    snap = source_snapshot
    if snap is None:
        snap = temp_snapshot
        steps.append(Step('snapshot_source',
                          lambda: storage.create_snapshot(source, snap),
                          lambda: storage.remove_snapshot(source, snap)))
    if source_snapshot is None or not snapshot_was_protected:
        steps.append(Step('protect_source_snapshot',
                          lambda: storage.protect_snapshot(source, snap),
                          lambda: storage.unprotect_snapshot(source, snap)))
    steps += [
        Step('clone', lambda: storage.clone(source, snap, dest),
             lambda: remove_image_and_snapshots(storage, dest)),
        Step('flatten', lambda: storage.flatten(dest)),
    ]
    steps += golden_snapshot_steps(storage, dest)
    if source_snapshot is None:
        steps.append(Step('drop_source_snapshot',
                          lambda: drop_snapshot(storage, source, snap)))
    elif not snapshot_was_protected:
        steps.append(Step('unprotect_source_snapshot',
                          lambda: storage.unprotect_snapshot(source, snap)))
    return steps


def golden_snapshot_steps(storage, name):
    """Give image ``name`` its protected snapshot (what nodes clone)."""
    return [
        Step('create_golden_snapshot', lambda: storage.create_snapshot(name, _golden()),
             lambda: storage.remove_snapshot(name, _golden())),
        Step('protect_golden_snapshot', lambda: storage.protect_snapshot(name, _golden()),
             lambda: storage.unprotect_snapshot(name, _golden())),
    ]


def drop_snapshot(storage, name, snapshot):
    storage.unprotect_snapshot(name, snapshot)
    storage.remove_snapshot(name, snapshot)


def remove_image_and_snapshots(storage, name):
    """Remove ``name`` with whatever snapshots it has (undo of a clone)."""
    if not storage.image_exists(name):
        return
    for snap in storage.list_snapshots(name):
        drop_snapshot(storage, name, snap['name'])
    storage.remove_image(name)


def upload_steps(storage, image, staging_path):
    """Write a staged raw file into a new storage image of the file's size."""
    name = image.storage_name

    def write():
        chunk = CONF.storage.chunk_size
        with open(staging_path, 'rb') as f:
            storage.write_image(name, iter(lambda: f.read(chunk), b''))

    return [
        Step('create_storage_image',
             lambda: storage.create_image(name, os.path.getsize(staging_path)),
             lambda: remove_image_and_snapshots(storage, name)),
        Step('write_data', write),
    ] + golden_snapshot_steps(storage, name)


def export_steps(storage, image, dest):
    """An independent storage image ``dest`` with ``image``'s content."""
    return [
        Step('clone', lambda: storage.clone(image.storage_name, _golden(), dest),
             lambda: remove_image_and_snapshots(storage, dest)),
        Step('flatten', lambda: storage.flatten(dest)),
    ]


def delete_image_steps(storage, image):
    """Unprotect → remove the golden snapshot → remove the image."""
    name = image.storage_name
    if name is None:
        return []
    return [
        Step('unprotect_golden_snapshot',
             lambda: storage.unprotect_snapshot(name, _golden()),
             lambda: _ignore_missing(storage.protect_snapshot, name, _golden())),
        Step('remove_golden_snapshot', lambda: storage.remove_snapshot(name, _golden()),
             lambda: _ignore_missing(storage.create_snapshot, name, _golden())),
        Step('remove_storage_image', lambda: remove_image_and_snapshots(storage, name)),
    ]


def node_chap(node):
    """The node's CHAP credentials as ``(user, secret)``, or None."""
    return (node.chap_username, node.chap_secret) if node.chap_username else None


def boot_info(node):
    """What the boot driver needs to know about a node."""
    return {'name': node.name, 'mac': node.mac, 'initiator_iqn': node.initiator_iqn,
            'target': {'iqn': node.target_iqn, 'portals': list(node.target_portals or []),
                       'lun': node.target_lun or 1},
            'chap': node_chap(node)}


def export_disk(storage, iscsi, node):
    """Create (or confirm) the target exporting ``node``'s disk to it alone."""
    return iscsi.create_target(node.target_iqn, storage.backing_store(node.disk_name),
                               node.initiator_iqn, chap=node_chap(node))


def _network_steps(isolator, node, project, network):
    """The two actions on the node's NIC and ``network``: (attach, detach)."""
    def attach():
        isolator.attach_network(node.name, node.nic_label, network,
                                project=project.isolator_project)

    def detach():
        isolator.detach_network(node.name, node.nic_label, network,
                                project=project.isolator_project)

    return attach, detach


def provision_steps(drivers, node, image, project, record_target):
    """Clone → target → boot files → network → power cycle.

    ``record_target(info)`` stores what the iSCSI driver returned on the row.
    """
    storage, iscsi = drivers['storage'], drivers['iscsi']
    boot, isolator = drivers['boot'], drivers['isolator']
    network = project.provisioning_network or isolator.default_network()

    def create_target():
        info = export_disk(storage, iscsi, node)
        record_target(info)
        node.target_portals, node.target_lun = info['portals'], info['lun']

    steps = [
        Step('clone_disk',
             lambda: storage.clone(image.storage_name, _golden(), node.disk_name),
             lambda: remove_image_and_snapshots(storage, node.disk_name)),
        Step('create_target', create_target, lambda: iscsi.delete_target(node.target_iqn)),
        Step('write_boot_files', lambda: boot.prepare(boot_info(node)),
             lambda: boot.clean(boot_info(node))),
    ]
    if network:
        attach, detach = _network_steps(isolator, node, project, network)
        steps.append(Step('attach_network', attach, detach))
    steps.append(Step('power_cycle', lambda: isolator.power_cycle(node.name, 'pxe'),
                      lambda: isolator.power_off(node.name)))
    return steps


def deprovision_steps(drivers, node, project, restorable):
    """The reverse of provision. When ``restorable`` (the node was active),
    each step's undo puts back what it removed, so a failure leaves the node
    fully provisioned; otherwise (a failed node) there is nothing to restore."""
    storage, iscsi = drivers['storage'], drivers['iscsi']
    boot, isolator = drivers['boot'], drivers['isolator']
    network = project.provisioning_network or isolator.default_network()

    def maybe(func):
        return func if restorable else None

    # Off the tenant's network first, then off.
    steps = []
    if network and node.mac:
        attach, detach = _network_steps(isolator, node, project, network)
        steps.append(Step('detach_network', detach, maybe(attach)))
    steps.append(Step('power_off', lambda: isolator.power_off(node.name)))
    if node.mac:
        steps.append(Step('remove_boot_files', lambda: boot.clean(boot_info(node)),
                          maybe(lambda: boot.prepare(boot_info(node)))))
    steps += [
        Step('delete_target', lambda: iscsi.delete_target(node.target_iqn),
             maybe(lambda: export_disk(storage, iscsi, node))),
        Step('remove_disk', lambda: remove_image_and_snapshots(storage, node.disk_name)),
    ]
    return steps


def convert_steps(staging_path, raw_path):
    """Turn a staged qcow2 upload into raw with qemu-img (refusing backing files)."""
    def convert():
        out, _ = utils.execute('qemu-img', 'info', '--output=json', '-f', 'qcow2',
                               staging_path, timeout=120)
        info = json.loads(out)
        # Both would make qemu-img read a file of this host into the image.
        if info.get('backing-filename') or info.get('full-backing-filename'):
            raise exception.InvalidImageFormat(reason='qcow2 images with a backing file '
                                                      'are refused')
        if info.get('format-specific', {}).get('data', {}).get('data-file'):
            raise exception.InvalidImageFormat(reason='qcow2 images with an external data '
                                                      'file are refused')
        utils.execute('qemu-img', 'convert', '-f', 'qcow2', '-O', 'raw', staging_path,
                      raw_path, timeout=3600)

    def remove():
        if os.path.exists(raw_path):
            os.unlink(raw_path)

    return [Step('convert_qcow2', convert, remove)]
