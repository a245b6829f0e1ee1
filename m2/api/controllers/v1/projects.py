"""``/v1/projects``: tenants, their isolator project and provisioning network."""

import pecan

from m2.api import utils
from m2.api import validation as v
from m2.api.utils import allowed_methods as _allowed
from m2.common import exception

CREATE = v.obj({'name': v.NAME, 'keystone_project_id': v.FREE_TEXT,
                'isolator_project': v.FREE_TEXT, 'provisioning_network': v.FREE_TEXT},
               required=['name'])


class ProjectController:
    def __init__(self, ident):
        self.ident = ident

    @pecan.expose('json', generic=True)
    def index(self, *args, **kwargs):
        raise exception.MethodNotAllowed(allowed=_allowed(self.index))

    @index.when(method='GET', template='json')
    def index_get(self):
        utils.authorize('m2:project:get')
        return utils.conductor().get_project(utils.ctx(), self.ident)

    @index.when(method='DELETE', template='json')
    def delete(self):
        utils.authorize('m2:project:delete')
        utils.conductor().delete_project(utils.ctx(), self.ident)
        utils.status(204)


class ProjectsController:
    @pecan.expose('json', generic=True)
    def index(self, *args, **kwargs):
        raise exception.MethodNotAllowed(allowed=_allowed(self.index))

    @index.when(method='GET', template='json')
    def index_get(self):
        utils.authorize('m2:project:list')
        return {'projects': utils.conductor().list_projects(utils.ctx())}

    @index.when(method='POST', template='json')
    def create(self):
        utils.authorize('m2:project:create')
        body = utils.body(CREATE)
        project = utils.conductor().create_project(utils.ctx(), **body)
        utils.status(201)
        return project

    @pecan.expose()
    def _lookup(self, ident, *remainder):
        return ProjectController(ident), remainder
