"""``/v1/nodes``: provision, deprovision and snapshot bare-metal nodes."""

import pecan

from m2.api import utils
from m2.api import validation as v
from m2.api.utils import allowed_methods as _allowed
from m2.common import exception

PROVISION = v.obj({'name': v.NAME, 'project': v.OPTIONAL_NAME,
                   'image': {'type': 'string', 'minLength': 1, 'maxLength': 63},
                   'nic': v.NIC, 'mac': v.MAC},
                  required=['name', 'image', 'nic'])
SNAPSHOT = v.obj({'name': v.NAME, 'public': {'type': 'boolean'}}, required=['name'])


class NodeController:
    def __init__(self, name):
        self.name = name

    @pecan.expose('json', generic=True)
    def index(self, *args, **kwargs):
        raise exception.MethodNotAllowed(allowed=_allowed(self.index))

    @index.when(method='GET', template='json')
    def index_get(self):
        utils.authorize('m2:node:get')
        return utils.conductor().get_node(utils.ctx(), self.name)

    @index.when(method='DELETE', template='json')
    def delete(self):
        utils.authorize('m2:node:deprovision')
        node = utils.conductor().deprovision_node(utils.ctx(), self.name)
        utils.status(202)
        return node

    @pecan.expose('json', generic=True)
    def snapshot(self, *args, **kwargs):
        raise exception.MethodNotAllowed(allowed=_allowed(self.snapshot))

    @snapshot.when(method='POST', template='json')
    def snapshot_post(self):
        utils.authorize('m2:node:snapshot')
        body = utils.body(SNAPSHOT)
        image = utils.conductor().snapshot_node(utils.ctx(), self.name, body['name'],
                                                public=body.get('public', False))
        utils.status(202)
        return image

    @pecan.expose('json', generic=True)
    def ip(self, *args, **kwargs):
        raise exception.MethodNotAllowed(allowed=_allowed(self.ip))

    @ip.when(method='GET', template='json')
    def ip_get(self):
        utils.authorize('m2:node:get')
        return utils.conductor().node_ip(utils.ctx(), self.name)


class NodesController:
    @pecan.expose('json', generic=True)
    def index(self, *args, **kwargs):
        raise exception.MethodNotAllowed(allowed=_allowed(self.index))

    @index.when(method='GET', template='json')
    def index_get(self, project=None, all_projects=None):
        utils.authorize('m2:node:get')
        all_projects = utils.flag(all_projects, 'all_projects')
        if all_projects:
            utils.authorize('m2:node:all_projects')
        return {'nodes': utils.conductor().list_nodes(utils.ctx(), project=project,
                                                      all_projects=all_projects)}

    @index.when(method='POST', template='json')
    def create(self):
        utils.authorize('m2:node:provision')
        body = utils.body(PROVISION)
        node = utils.conductor().provision_node(
            utils.ctx(), body['name'], body.get('project'), body['image'], body['nic'],
            mac=body.get('mac'))
        utils.status(202)
        return node

    @pecan.expose()
    def _lookup(self, name, *remainder):
        return NodeController(name), remainder
