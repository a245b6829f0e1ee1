"""The conductor: one method per operation.

Every method checks its input and takes the resource's lock synchronously
(so a caller gets 400/404/409 at once), then long operations are handed to
the ``OperationRunner`` (``m2.conductor.runner``), which runs their workflow
in a worker thread, and the method returns the resource in its transitional
state. Methods take a request context and
plain values and return plain dicts, so ``rpcapi`` can carry them over
oslo.messaging unchanged.
"""

import logging
import secrets
import threading
import uuid

from m2.common import exception, states, utils
from m2.conductor import audit as audit_mod
from m2.conductor import hash_ring, naming, views
from m2.conductor import runner as runner_mod
from m2.conf import CONF
from m2.db import api as db_api
from m2.drivers import factory

LOG = logging.getLogger(__name__)

class ConductorManager:
    """Runs operations; one instance per conductor process."""

    def __init__(self, host=None):
        self.host = host or CONF.host
        self.db = db_api.get_instance()
        self.drivers = factory.load_all()
        self.runner = runner_mod.OperationRunner(self.db, self.drivers, self.host)
        self._stopping = threading.Event()
        self.ring = hash_ring.HashRing(self.db)

    # Life cycle

    def start(self):
        """Register, recover what a crash interrupted, restore missing targets."""
        self.db.register_conductor(self.host)
        if CONF.conductor.recover_on_start:
            self.runner.recover()
            self.runner.retry_rollbacks()
        try:
            self.sync_targets()
        except exception.M2Exception as exc:
            LOG.warning('Could not restore iSCSI targets at start: %s', exc)

    def start_periodic_tasks(self):
        """Start the background loops.

        Every [conductor] heartbeat_interval seconds: record this conductor's
        heartbeat, and take over the work of dead ones. Every [conductor]
        sync_interval seconds (unless 0): finish failed rollbacks and restore
        lost iSCSI targets.
        """
        # Two threads: a takeover's rollback may take long, and must not
        # delay this conductor's own heartbeat until others take it over.
        self._every(CONF.conductor.heartbeat_interval, 'm2-heartbeat', self.heartbeat)
        self._every(CONF.conductor.heartbeat_interval, 'm2-takeover', self.take_over_dead)
        if CONF.conductor.sync_interval > 0:
            self._every(CONF.conductor.sync_interval, 'm2-periodic',
                        self.runner.retry_rollbacks, self.sync_targets)

    def _every(self, interval, name, *tasks):
        def loop():
            while not self._stopping.wait(interval):
                for task in tasks:
                    try:
                        task()
                    except Exception:
                        LOG.exception('Periodic %s failed', task.__name__)

        threading.Thread(target=loop, name=name, daemon=True).start()

    def heartbeat(self):
        """Record that this conductor is alive."""
        if not self.db.heartbeat_conductor(self.host):
            self.db.register_conductor(self.host)

    def take_over_dead(self):
        """Roll back what conductors that are no longer alive left running."""
        dead = self.db.list_dead_conductors(CONF.conductor.heartbeat_timeout)
        if dead:
            self.runner.take_over(dead)

    def stop(self, wait=True):
        self._stopping.set()
        self.runner.stop(wait=wait)
        if wait:  # nothing of ours is left running: no one need take over
            try:
                self.db.unregister_conductor(self.host)
            except Exception:
                LOG.exception('Could not mark conductor %s offline', self.host)

    def wait_idle(self, timeout=None):
        """Wait for running operations (tests, graceful stop)."""
        self.runner.wait_idle(timeout)

    # Scoping: which projects a caller may see

    def _visible_project_ids(self, context, all_projects=True):
        """None means every project (admin); else the caller's projects."""
        if context.is_admin and (all_projects or not context.project_id):
            return None
        if not context.project_id:
            return []
        return [p.id for p in self.db.list_projects(keystone_project_id=context.project_id)]

    def _project(self, context, ident):
        if ident is None:
            visible = self._visible_project_ids(context, all_projects=False)
            if visible is not None and len(visible) == 1:
                return self.db.get_project(visible[0])
            raise exception.Invalid(reason='project is required')
        project = self.db.get_project(ident)
        visible = self._visible_project_ids(context)
        if visible is not None and project.id not in visible:
            raise exception.ProjectNotFound(project=ident)
        return project

    def _image(self, context, ident, project=None):
        """An image visible to the caller, by uuid or by name."""
        visible = self._visible_project_ids(context)
        if _looks_like_uuid(ident):
            try:
                image = self.db.get_image_by_uuid(ident)
            except exception.ImageNotFound:
                image = None
            if image is not None:
                if visible is None or image.project_id in visible or image.public:
                    return image
                raise exception.ImageNotFound(image=ident)
        utils.validate_name(ident, 'image')
        project_ids = visible
        if project is not None:
            project_ids = [self._project(context, project).id]
        candidates = self.db.list_images(project_ids=project_ids,
                                         include_public=project is None, name=ident)
        if not candidates:
            raise exception.ImageNotFound(image=ident)
        if len(candidates) > 1:
            own = [c for c in candidates if visible is not None and c.project_id in visible]
            if len(own) == 1:
                return own[0]
            raise exception.Conflict(reason='several images are named %s; give the project '
                                            'or the image id' % ident)
        return candidates[0]

    def _owned_image(self, context, ident, action):
        """An image the caller may change: its project's, or any for an admin.

        Public images of other projects are readable (``_image``) but only
        their owner or an admin may upload to, export, move or delete them.
        """
        image = self._image(context, ident)
        visible = self._visible_project_ids(context)
        if visible is not None and image.project_id not in visible:
            raise exception.Forbidden(action='%s image %s of another project' %
                                      (action, image.name))
        return image

    def _node(self, context, name):
        utils.validate_name(name, 'node name')
        node = self.db.get_node_by_name(name)
        visible = self._visible_project_ids(context)
        if visible is not None and node.project_id not in visible:
            raise exception.NodeNotFound(node=name)
        return node

    def _image_view(self, image):
        parent = None
        if image.parent_id:
            try:
                parent = self.db.get_image(image.parent_id).uuid
            except exception.ImageNotFound:
                parent = None
        return views.image(image, parent)

    # Projects

    def create_project(self, context, name, keystone_project_id=None, isolator_project=None,
                       provisioning_network=None):
        utils.validate_name(name, 'project name')
        project = self.db.create_project({
            'name': name, 'keystone_project_id': keystone_project_id,
            'isolator_project': isolator_project,
            'provisioning_network': provisioning_network})
        LOG.info('Created project %s', name)
        return views.project(project)

    def list_projects(self, context):
        visible = self._visible_project_ids(context)
        return [views.project(p) for p in self.db.list_projects()
                if visible is None or p.id in visible]

    def get_project(self, context, ident):
        return views.project(self._project(context, ident))

    def delete_project(self, context, ident):
        project = self._project(context, ident)
        self.db.delete_project(project.id)
        LOG.info('Deleted project %s', project.name)

    # Images: queries

    def list_images(self, context, project=None, kind=None, all_projects=False):
        if project is not None:
            project_ids = [self._project(context, project).id]
            include_public = False
        else:
            project_ids = self._visible_project_ids(context, all_projects)
            include_public = True
        return [self._image_view(i) for i in
                self.db.list_images(project_ids=project_ids, include_public=include_public,
                                    kind=kind)]

    def get_image(self, context, ident, project=None):
        return self._image_view(self._image(context, ident, project))

    # Images: operations

    def _new_image(self, project, name, status, kind=states.GOLDEN, public=False,
                   parent_id=None, source=None, task=None):
        utils.validate_name(name, 'image name')
        values = {'uuid': str(uuid.uuid4()), 'name': name, 'project_id': project.id,
                  'kind': kind, 'public': bool(public), 'parent_id': parent_id,
                  'source': source, 'status': status}
        if task:
            values.update(reservation=self.host, task=task, task_steps=[], task_data={})
        try:
            image = self.db.create_image(values)
        except exception.ImageExists:
            raise exception.ImageExists(project=project.name, image=name)
        return self.db.update_image(image.id,
                                    {'storage_name': naming.image_storage_name(image.id)})

    def import_image(self, context, project, name, source, source_snapshot=None,
                     public=False):
        """Import storage image ``source`` (or its snapshot) as a golden image."""
        project = self._project(context, project)
        utils.validate_name(source, 'source', max_length=255)
        if naming.is_own_storage_name(source):
            raise exception.Invalid(reason='source %s is an m2-managed storage image; '
                                           'use image copy instead' % source)
        storage = self.drivers['storage']
        if not storage.image_exists(source):
            raise exception.StorageImageNotFound(name=source)
        protected = True
        if source_snapshot is not None:
            utils.validate_name(source_snapshot, 'source_snapshot')
            snaps = {s['name']: s for s in storage.list_snapshots(source)}
            if source_snapshot not in snaps:
                raise exception.StorageSnapshotNotFound(name=source, snapshot=source_snapshot)
            protected = snaps[source_snapshot]['protected']
        image = self._new_image(project, name, states.IMPORTING, public=public,
                                source=source if not source_snapshot
                                else '%s@%s' % (source, source_snapshot), task='import')
        image = self.runner.start(image, 'image', {'source': source,
                                             'source_snapshot': source_snapshot,
                                             'snapshot_was_protected': protected})
        return self._image_view(image)

    def create_image(self, context, project, name, public=False):
        """Register an image waiting for its data (``upload_image``)."""
        project = self._project(context, project)
        image = self._new_image(project, name, states.QUEUED, public=public, source='upload')
        return self._image_view(image)

    def upload_image(self, context, image, staging_path, size, disk_format='raw'):
        """Write a staged upload into storage; the staging file is consumed."""
        try:
            image = self._owned_image(context, image, 'upload')
        except exception.M2Exception:
            runner_mod.remove_quietly(staging_path)
            raise
        if image.status not in (states.QUEUED, states.ERROR) or image.kind != states.GOLDEN:
            runner_mod.remove_quietly(staging_path)
            raise exception.ImageNotReady(image=image.name, status=image.status)
        try:
            image = self.db.reserve('image', image.id, self.host, 'upload',
                                    {'status': states.UPLOADING, 'last_error': None})
        except exception.M2Exception:
            runner_mod.remove_quietly(staging_path)
            raise
        image = self.runner.start(image, 'image', {'staging_path': staging_path, 'size': size,
                                             'disk_format': disk_format})
        return self._image_view(image)

    def export_image(self, context, image, storage_name):
        """Clone + flatten ``image`` into an independent storage image."""
        image = self._owned_image(context, image, 'export')
        utils.validate_name(storage_name, 'storage_name', max_length=255)
        if naming.is_own_storage_name(storage_name) or storage_name.startswith(CONF.uid):
            raise exception.Invalid(reason='storage names starting with %r are reserved for '
                                           'm2' % CONF.uid)
        if self.drivers['storage'].image_exists(storage_name):
            raise exception.StorageImageExists(name=storage_name)
        self._require_active(image)
        image = self.db.reserve('image', image.id, self.host, 'export')
        image = self.runner.start(image, 'image', {'dest': storage_name})
        return self._image_view(image)

    def copy_image(self, context, image, project, name=None):
        """Deep-copy ``image`` into ``project`` as a new golden image."""
        source = self._image(context, image)
        self._require_active(source)
        project = self._project(context, project)
        copy = self._new_image(project, name or source.name, states.COPYING,
                               public=False, parent_id=source.id,
                               source='image %s' % source.uuid, task='copy')
        copy = self.runner.start(copy, 'image', {'source_image_id': source.id})
        return self._image_view(copy)

    def move_image(self, context, image, project):
        """Give ``image`` to another project (the row changes owner)."""
        image = self._owned_image(context, image, 'move')
        project = self._project(context, project)
        image = self.db.reserve('image', image.id, self.host, 'move')
        try:
            image = self.db.update_image(image.id, {'project_id': project.id})
        except exception.ImageExists:
            self.db.release('image', image.id)
            raise exception.ImageExists(project=project.name, image=image.name)
        image = self.db.release('image', image.id)
        LOG.info('Moved image %s to project %s', image.uuid, project.name)
        return self._image_view(image)

    def delete_image(self, context, image):
        """Delete an image nothing depends on: 409 while nodes or images do."""
        image = self._owned_image(context, image, 'delete')
        users = self.db.image_dependents(image.id)
        if users:
            raise exception.ImageInUse(image=image.name, users=', '.join(users))
        previous = image.status
        image = self.db.reserve('image', image.id, self.host, 'delete',
                                {'status': states.DELETING})
        # A provision that read the image as active just before we took the
        # lock would have created its node row by now: look again.
        users = self.db.image_dependents(image.id)
        if users:
            self.db.release('image', image.id, {'status': previous})
            raise exception.ImageInUse(image=image.name, users=', '.join(users))
        image = self.runner.start(image, 'image', {'previous_status': previous})
        return self._image_view(image)

    def _require_active(self, image):
        if image.status != states.ACTIVE:
            raise exception.ImageNotReady(image=image.name, status=image.status)

    # Nodes: queries

    def list_nodes(self, context, project=None, all_projects=False):
        if project is not None:
            project_ids = [self._project(context, project).id]
        else:
            project_ids = self._visible_project_ids(context, all_projects)
        return [views.node(n) for n in self.db.list_nodes(project_ids=project_ids)]

    def get_node(self, context, name):
        return views.node(self._node(context, name))

    def node_ip(self, context, name):
        from m2.drivers.boot import leases
        node = self._node(context, name)
        if not node.mac:
            raise exception.LeaseNotFound(node=name, mac=None)
        return {'node': node.name, 'mac': node.mac,
                'ip': leases.find_ip(CONF.boot.dhcp_leases_file, node.mac, node=node.name)}

    # Nodes: operations

    def provision_node(self, context, name, project, image, nic, mac=None):
        """Provision node ``name`` from ``image`` on ``project``'s network."""
        utils.validate_name(name, 'node name')
        utils.validate_nic_label(nic)
        project = self._project(context, project)
        image = self._image(context, image)
        self._require_active(image)
        if mac is not None:
            mac = utils.normalize_mac(mac)
        else:
            mac = utils.normalize_mac(self.drivers['isolator'].get_nic_mac(name, nic))
        try:
            existing = self.db.get_node_by_name(name)
        except exception.NodeNotFound:
            existing = None
        values = {'project_id': project.id, 'image_id': image.id, 'nic_label': nic,
                  'mac': mac, 'provision_state': states.PROVISIONING, 'last_error': None}
        if existing is not None:
            if existing.provision_state != states.ERROR or existing.reservation:
                raise exception.NodeExists(node=name, state=existing.provision_state)
            # A node whose provisioning failed (and was rolled back) is retried.
            node = self.db.reserve('node', existing.id, self.host, 'provision', values)
        else:
            values.update(uuid=str(uuid.uuid4()), name=name, reservation=self.host,
                          task='provision', task_steps=[], task_data={})
            node = self.db.create_node(values)
        extra = {'disk_name': naming.node_disk_name(node.id),
                 'target_iqn': naming.target_iqn(node.id, name),
                 'initiator_iqn': naming.initiator_iqn(node.id, name),
                 'target_portals': [], 'target_lun': None,
                 'chap_username': None, 'chap_secret': None}
        if CONF.iscsi.chap:
            extra.update(chap_username=naming.chap_username(node.id),
                         chap_secret=secrets.token_urlsafe(18))
        node = self.db.update_node(node.id, extra)
        # The image may have started deleting between our check and the row.
        current = self.db.get_image(image.id)
        if current.status != states.ACTIVE:
            self.db.delete_node(node.id)
            raise exception.ImageNotReady(image=image.name, status=current.status)
        node = self.runner.start(node, 'node', {})
        return views.node(node)

    def deprovision_node(self, context, name):
        """Tear a node down (the reverse of provision) and forget it."""
        node = self._node(context, name)
        if node.provision_state not in (states.ACTIVE, states.ERROR,
                                        states.DEPROVISION_FAILED):
            raise exception.NodeInWrongState(node=name, state=node.provision_state,
                                             action='deprovision')
        previous = node.provision_state
        node = self.db.reserve('node', node.id, self.host, 'deprovision',
                               {'provision_state': states.DEPROVISIONING})
        node = self.runner.start(node, 'node', {'previous_state': previous})
        return views.node(node)

    def snapshot_node(self, context, name, snapshot_name, public=False):
        """Save node ``name``'s disk as a new image of kind snapshot."""
        node = self._node(context, name)
        if node.provision_state != states.ACTIVE:
            raise exception.NodeInWrongState(node=name, state=node.provision_state,
                                             action='snapshot')
        utils.validate_name(snapshot_name, 'snapshot name')
        project = self.db.get_project(node.project_id)
        node = self.db.reserve('node', node.id, self.host, 'snapshot',
                               {'provision_state': states.SNAPSHOTTING})
        try:
            image = self._new_image(project, snapshot_name, states.SNAPSHOTTING,
                                    kind=states.SNAPSHOT, public=public,
                                    parent_id=node.image_id,
                                    source='node %s' % node.name, task='snapshot')
        except exception.M2Exception:
            self.db.release('node', node.id, {'provision_state': states.ACTIVE})
            raise
        self.db.update_node(node.id, {'task_data': {'image_id': image.id}})
        image = self.runner.start(image, 'image', {'node_id': node.id})
        return self._image_view(image)

    # Targets and audit

    def list_targets(self, context):
        nodes = {n.target_iqn: n for n in self.db.list_nodes() if n.target_iqn}
        result = []
        for target in self.drivers['iscsi'].list_targets():
            node = nodes.get(target['iqn'])
            result.append(dict(target, node=node.name if node else None,
                               project=node.project.name if node else None))
        return result

    def list_conductors(self, context):
        """Every conductor that ever registered, and whether it is alive."""
        live = set(self.db.list_live_conductors(CONF.conductor.heartbeat_timeout))
        return [views.conductor(row, alive=row.hostname in live)
                for row in self.db.list_conductors()]

    def audit(self, context, fix=False):
        if fix:
            self.runner.retry_rollbacks()
        return audit_mod.Auditor(self.db, self.drivers).run(fix=fix)

    def sync_targets(self):
        """Re-create the targets, lost by the target daemon, of the active
        nodes this conductor owns on the hash ring."""
        return audit_mod.Auditor(self.db, self.drivers).restore_targets(
            owned=lambda node: self.ring.owns(self.host, node.name))

def _looks_like_uuid(value):
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False
