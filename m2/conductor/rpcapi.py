"""Client side of the conductor: one method for each manager method.

With ``[conductor] transport = local`` (m2-server) calls go straight to the
in-process manager; with ``messaging`` they travel over oslo.messaging to an
``m2-conductor``. The API only ever talks to this class, so it is the same
either way.
"""

from m2.common import exception
from m2.conf import CONF

RPC_API_VERSION = '1.0'


class ConductorAPI:
    """Mirror of ``m2.conductor.manager.ConductorManager``."""

    def __init__(self, manager=None):
        self._manager = manager
        self._client = None
        self._ring = None
        if CONF.conductor.transport == 'messaging':
            from m2.common import rpc
            from m2.conductor import hash_ring
            from m2.db import api as db_api
            self._client = rpc.get_client(RPC_API_VERSION)
            self._ring = hash_ring.HashRing(db_api.get_instance())
        elif manager is None:
            raise ValueError('the local transport needs the conductor manager')

    def _call(self, context, method, route_node=None, **kwargs):
        """Call ``method``; over messaging, on the hash ring's owner of
        ``route_node`` when given, else on any conductor."""
        if self._client is None:
            return getattr(self._manager, method)(context, **kwargs)
        import oslo_messaging as messaging
        server = self._ring.owner(route_node) if route_node is not None else None
        try:
            return self._client.prepare(server=server).call(context, method, **kwargs)
        except messaging.MessagingTimeout:
            # No conductor consumed the call (none running, the owner just
            # died, or the broker is down): unavailable, not broken.
            if server is not None:
                self._ring.reset()
            raise exception.BackendUnavailable(
                backend='m2-conductor%s (topic %s)' % (' ' + server if server else '',
                                                       CONF.conductor.topic),
                reason='no conductor answered within %s s' % CONF.rpc_response_timeout)

    def create_project(self, context, name, keystone_project_id=None, isolator_project=None,
                       provisioning_network=None):
        return self._call(context, 'create_project', name=name,
                          keystone_project_id=keystone_project_id,
                          isolator_project=isolator_project,
                          provisioning_network=provisioning_network)

    def list_projects(self, context):
        return self._call(context, 'list_projects')

    def get_project(self, context, ident):
        return self._call(context, 'get_project', ident=ident)

    def delete_project(self, context, ident):
        return self._call(context, 'delete_project', ident=ident)

    def list_images(self, context, project=None, kind=None, all_projects=False):
        return self._call(context, 'list_images', project=project, kind=kind,
                          all_projects=all_projects)

    def get_image(self, context, ident, project=None):
        return self._call(context, 'get_image', ident=ident, project=project)

    def import_image(self, context, project, name, source, source_snapshot=None,
                     public=False):
        return self._call(context, 'import_image', project=project, name=name, source=source,
                          source_snapshot=source_snapshot, public=public)

    def create_image(self, context, project, name, public=False):
        return self._call(context, 'create_image', project=project, name=name, public=public)

    def upload_image(self, context, image, staging_path, size, disk_format='raw'):
        return self._call(context, 'upload_image', image=image, staging_path=staging_path,
                          size=size, disk_format=disk_format)

    def export_image(self, context, image, storage_name):
        return self._call(context, 'export_image', image=image, storage_name=storage_name)

    def copy_image(self, context, image, project, name=None):
        return self._call(context, 'copy_image', image=image, project=project, name=name)

    def move_image(self, context, image, project):
        return self._call(context, 'move_image', image=image, project=project)

    def delete_image(self, context, image):
        return self._call(context, 'delete_image', image=image)

    def list_nodes(self, context, project=None, all_projects=False):
        return self._call(context, 'list_nodes', project=project, all_projects=all_projects)

    def get_node(self, context, name):
        return self._call(context, 'get_node', name=name)

    def node_ip(self, context, name):
        return self._call(context, 'node_ip', name=name)

    def provision_node(self, context, name, project, image, nic, mac=None):
        return self._call(context, 'provision_node', route_node=name, name=name, project=project,
                          image=image, nic=nic, mac=mac)

    def deprovision_node(self, context, name):
        return self._call(context, 'deprovision_node', route_node=name, name=name)

    def snapshot_node(self, context, name, snapshot_name, public=False):
        return self._call(context, 'snapshot_node', route_node=name, name=name,
                          snapshot_name=snapshot_name, public=public)

    def list_targets(self, context):
        return self._call(context, 'list_targets')

    def list_conductors(self, context):
        return self._call(context, 'list_conductors')

    def audit(self, context, fix=False):
        return self._call(context, 'audit', fix=fix)
