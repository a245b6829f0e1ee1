"""``m2 target list``: the iSCSI exports of node disks (operators)."""

from cliff import lister

from m2.cli import common

LIST_FIELDS = ('iqn', 'node', 'project', 'backing', 'initiators', 'connections')
LIST_HEADERS = ('IQN', 'Node', 'Project', 'Backing', 'Initiators', 'Connections')


class ListTarget(lister.Lister):
    """List iSCSI targets with their node, backing store and initiators."""

    def take_action(self, parsed_args):
        return common.listing(self.app.client.get('/targets')['targets'],
                              LIST_FIELDS, LIST_HEADERS)
