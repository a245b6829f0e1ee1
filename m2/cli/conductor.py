"""``m2 conductor list``: the conductors and their heartbeats (operators)."""

from cliff import lister

from m2.cli import common

LIST_FIELDS = ('hostname', 'alive', 'online', 'heartbeat_at')
LIST_HEADERS = ('Hostname', 'Alive', 'Online', 'Last heartbeat')


class ListConductor(lister.Lister):
    """List conductors: alive means online and heartbeating in time."""

    def take_action(self, parsed_args):
        return common.listing(self.app.client.get('/conductors')['conductors'],
                              LIST_FIELDS, LIST_HEADERS)
