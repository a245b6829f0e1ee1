"""``/v1/targets``: the iSCSI exports of node disks (operators only)."""

import pecan

from m2.api import utils
from m2.api.utils import allowed_methods as _allowed
from m2.common import exception


class TargetsController:
    @pecan.expose('json', generic=True)
    def index(self, *args, **kwargs):
        raise exception.MethodNotAllowed(allowed=_allowed(self.index))

    @index.when(method='GET', template='json')
    def index_get(self):
        utils.authorize('m2:target:list')
        return {'targets': utils.conductor().list_targets(utils.ctx())}
