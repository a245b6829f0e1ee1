"""``/``: the version document, and the v1 API below it."""

import pecan

from m2.api.controllers.v1 import V1Controller


def version_document():
    return {'id': 'v1', 'status': 'CURRENT', 'links': [
        {'rel': 'self', 'href': pecan.request.host_url + '/v1/'}]}


class RootController:
    v1 = V1Controller()

    @pecan.expose('json')
    def index(self):
        return {'name': 'M2 (Malleable Metal as a Service)',
                'description': 'Bare-metal nodes that boot from copy-on-write clones.',
                'versions': [version_document()],
                'default_version': version_document()}
