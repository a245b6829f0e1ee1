"""``/v1/conductors``: the conductors and their heartbeats (operators only)."""

import pecan

from m2.api import utils
from m2.api.utils import allowed_methods as _allowed
from m2.common import exception


class ConductorsController:
    @pecan.expose('json', generic=True)
    def index(self, *args, **kwargs):
        raise exception.MethodNotAllowed(allowed=_allowed(self.index))

    @index.when(method='GET', template='json')
    def index_get(self):
        utils.authorize('m2:conductor:list')
        return {'conductors': utils.conductor().list_conductors(utils.ctx())}
