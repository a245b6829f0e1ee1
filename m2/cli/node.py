"""``m2 node ...``: provision, deprovision and snapshot bare-metal nodes."""

from cliff import command, lister, show

from m2.cli import client as m2_client
from m2.cli import common
from m2.cli.common import q

LIST_FIELDS = ('name', 'project', 'image_name', 'nic', 'mac', 'provision_state')
LIST_HEADERS = ('Name', 'Project', 'Image', 'NIC', 'MAC', 'Provision State')


class ProvisionNode(show.ShowOne):
    """Provision a node: clone the image, export it over iSCSI, network-boot the node."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='<name>',
                            help='Node name, as the network isolator knows it.')
        parser.add_argument('--image', metavar='<image>', required=True,
                            help='Image (ID or name) to boot the node from.')
        parser.add_argument('--nic', metavar='<label>', required=True,
                            help='Label of the NIC that boots (e.g. eth0).')
        parser.add_argument('--mac', metavar='<mac>',
                            help='MAC of that NIC (default: asked of the isolator).')
        parser.add_argument('--project', metavar='<project>',
                            help='Project the node is provisioned for.')
        return common.add_wait_arguments(parser, 'provisioning')

    def take_action(self, parsed_args):
        body = {'name': parsed_args.name, 'image': parsed_args.image,
                'nic': parsed_args.nic}
        if parsed_args.mac:
            body['mac'] = parsed_args.mac
        if parsed_args.project:
            body['project'] = parsed_args.project
        node = self.app.client.post('/nodes', body)
        return common.show(common.wait_node(self.app, node, parsed_args, 'provision'))


class DeprovisionNode(command.Command):
    """Deprovision a node: detach its network, remove its boot files, target and disk."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='<name>', help='Node name.')
        return common.add_wait_arguments(parser, 'deprovisioning')

    def take_action(self, parsed_args):
        path = '/nodes/%s' % q(parsed_args.name)
        node = self.app.client.delete(path)
        if not parsed_args.wait:
            common.note(self.app, 'Deprovisioning node %s' % parsed_args.name)
            return 0
        left = common.Waiter(self.app, 'node', parsed_args.timeout).until_gone(
            path, 'provision_state', common.NODE_TRANSITIONAL)
        if left is not None:
            raise common.node_failed(left, 'deprovision')
        common.note(self.app, 'Deprovisioned node %s' % node['name'])
        return 0


class SnapshotNode(show.ShowOne):
    """Save a node's whole disk as a new image (kind snapshot)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='<name>', help='Node name.')
        parser.add_argument('snapshot_name', metavar='<snapshot-name>',
                            help='Name of the new snapshot image.')
        parser.add_argument('--public', action='store_true',
                            help='Make the snapshot visible to every project.')
        return common.add_wait_arguments(parser, 'snapshot')

    def take_action(self, parsed_args):
        image = self.app.client.post('/nodes/%s/snapshot' % q(parsed_args.name),
                                     {'name': parsed_args.snapshot_name,
                                      'public': parsed_args.public})
        return common.show(common.wait_image(self.app, image, parsed_args, 'snapshot'))


class ListNode(lister.Lister):
    """List provisioned nodes and their state."""

    def get_parser(self, prog_name):
        return common.add_scope_arguments(super().get_parser(prog_name), 'nodes')

    def take_action(self, parsed_args):
        nodes = self.app.client.get('/nodes', **common.scope_query(parsed_args))['nodes']
        return common.listing(nodes, LIST_FIELDS, LIST_HEADERS)


class ShowNode(show.ShowOne):
    """Show a node: state, image, disk, iSCSI target, last error."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='<name>', help='Node name.')
        return parser

    def take_action(self, parsed_args):
        return common.show(self.app.client.get('/nodes/%s' % q(parsed_args.name)))


class NodeIP(show.ShowOne):
    """Show the IP address a node got from DHCP (from the lease file)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='<name>', help='Node name.')
        return parser

    def take_action(self, parsed_args):
        result = self.app.client.get('/nodes/%s/ip' % q(parsed_args.name))
        if not isinstance(result, dict):
            raise m2_client.CommandError('Unexpected answer: %r' % (result,))
        return common.show(result, ('node', 'mac', 'ip'))
