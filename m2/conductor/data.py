"""Image data streamed out of storage for downloads.

The read path needs no lock and changes nothing, so the API streams it
straight from the storage driver instead of through the conductor.
"""

from m2.conf import CONF
from m2.drivers import factory


class ImageData:
    def __init__(self, storage=None):
        self._storage = storage

    @property
    def storage(self):
        if self._storage is None:
            self._storage = factory.get('storage')
        return self._storage

    def size(self, storage_name):
        return self.storage.get_size(storage_name)

    def iter_image(self, storage_name):
        """Yield the bytes of the image's protected snapshot (a stable view)."""
        return self.storage.read_image(storage_name, snapshot=CONF.storage.snapshot_name,
                                       chunk_size=CONF.storage.chunk_size)
