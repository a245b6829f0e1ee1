"""``/v1``: images, nodes, projects, targets, conductors and the audit."""

import pecan

from m2.api.controllers.v1 import audit, conductors, images, nodes, projects, targets


class V1Controller:
    images = images.ImagesController()
    nodes = nodes.NodesController()
    projects = projects.ProjectsController()
    targets = targets.TargetsController()
    conductors = conductors.ConductorsController()
    audit = audit.AuditController()

    @pecan.expose('json')
    def index(self):
        base = pecan.request.host_url + '/v1/'
        return {'id': 'v1', 'status': 'CURRENT',
                'links': [{'rel': 'self', 'href': base}],
                'resources': {name: base + name for name in
                              ('images', 'nodes', 'projects', 'targets', 'conductors',
                               'audit')}}
