"""``m2 snapshot ...``: images of kind ``snapshot``, taken from nodes."""

from cliff import command, lister

from m2.cli import common
from m2.cli import image as image_cmd

LIST_FIELDS = ('id', 'name', 'project', 'parent', 'status', 'size', 'public')
LIST_HEADERS = ('ID', 'Name', 'Project', 'Parent', 'Status', 'Size', 'Public')


class ListSnapshot(lister.Lister):
    """List snapshots (images taken from nodes with "m2 node snapshot")."""

    def get_parser(self, prog_name):
        return common.add_scope_arguments(super().get_parser(prog_name), 'snapshots')

    def take_action(self, parsed_args):
        images = image_cmd.list_images(self.app, parsed_args, 'snapshot')
        return common.listing(images, LIST_FIELDS, LIST_HEADERS)


class DeleteSnapshot(command.Command):
    """Delete snapshots (refused while nodes or images depend on them)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('snapshots', metavar='<snapshot>', nargs='+',
                            help='Snapshot ID or name.')
        parser.add_argument('--project', metavar='<project>',
                            help='Project the snapshot names belong to.')
        return common.add_wait_arguments(parser, 'deletion')

    def take_action(self, parsed_args):
        image_cmd.delete_images(self.app, parsed_args.snapshots, parsed_args,
                                kind='snapshot')
        return 0
