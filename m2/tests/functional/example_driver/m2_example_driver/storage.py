"""An out-of-tree storage driver: M2's file driver that journals its calls.

It shows the whole contract a driver author meets: subclass (or implement)
``m2.drivers.base.StorageDriver``, read options from ``m2.conf.CONF``, and
register the class under ``m2.drivers.storage`` in your own package.
"""

import json
import os

from m2.conf import CONF
from m2.drivers.storage import file as file_storage


class JournaledFileStorage(file_storage.FileStorageDriver):
    name = 'journaled-file'

    def _journal(self, verb, *args):
        path = os.path.join(CONF.state_path, 'example-driver-calls.jsonl')
        with open(path, 'a') as f:
            f.write(json.dumps([verb] + [str(a) for a in args]) + '\n')

    def clone(self, parent, snapshot, child):
        self._journal('clone', parent, snapshot, child)
        return super().clone(parent, snapshot, child)

    def remove_image(self, name):
        self._journal('remove_image', name)
        return super().remove_image(name)
