"""``/v1``: images, nodes, projects, targets and the audit."""

import pecan

from m2.api.controllers.v1 import audit, images, nodes, projects, targets


class V1Controller:
    images = images.ImagesController()
    nodes = nodes.NodesController()
    projects = projects.ProjectsController()
    targets = targets.TargetsController()
    audit = audit.AuditController()

    @pecan.expose('json')
    def index(self):
        base = pecan.request.host_url + '/v1/'
        return {'id': 'v1', 'status': 'CURRENT',
                'links': [{'rel': 'self', 'href': base}],
                'resources': {name: base + name for name in
                              ('images', 'nodes', 'projects', 'targets', 'audit')}}
