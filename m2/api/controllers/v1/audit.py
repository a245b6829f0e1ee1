"""``/v1/audit``: compare the database with the backends; optionally repair."""

import pecan

from m2.api import utils
from m2.api import validation as v
from m2.api.utils import allowed_methods as _allowed
from m2.common import exception

RUN = v.obj({'fix': {'type': 'boolean'}})


class AuditController:
    @pecan.expose('json', generic=True)
    def index(self, *args, **kwargs):
        raise exception.MethodNotAllowed(allowed=_allowed(self.index))

    @index.when(method='GET', template='json')
    def index_get(self):
        utils.authorize('m2:audit')
        return utils.conductor().audit(utils.ctx(), fix=False)

    @index.when(method='POST', template='json')
    def run(self):
        utils.authorize('m2:audit')
        body = utils.body(RUN)
        return utils.conductor().audit(utils.ctx(), fix=body.get('fix', False))
