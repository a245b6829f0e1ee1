"""``m2 project ...``: tenants and their isolator project and network (operators)."""

from cliff import command, lister, show

from m2.cli import client as m2_client
from m2.cli import common
from m2.cli.common import q

LIST_FIELDS = ('id', 'name', 'keystone_project_id', 'isolator_project',
               'provisioning_network')
LIST_HEADERS = ('ID', 'Name', 'Keystone Project ID', 'Isolator Project',
                'Provisioning Network')


class CreateProject(show.ShowOne):
    """Create a project and map it to Keystone, the isolator and a network."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='<name>', help='Project name.')
        parser.add_argument('--keystone-project-id', metavar='<id>',
                            help='Keystone project whose members use this project.')
        parser.add_argument('--isolator-project', metavar='<name>',
                            help='Project in the network isolator (default: the isolator '
                                 'driver\'s configured project, e.g. [hil] project).')
        parser.add_argument('--provisioning-network', metavar='<network>',
                            help='Isolator network the project\'s nodes boot on.')
        return parser

    def take_action(self, parsed_args):
        body = {'name': parsed_args.name}
        for key in ('keystone_project_id', 'isolator_project', 'provisioning_network'):
            if getattr(parsed_args, key):
                body[key] = getattr(parsed_args, key)
        return common.show(self.app.client.post('/projects', body))


class ListProject(lister.Lister):
    """List projects."""

    def take_action(self, parsed_args):
        return common.listing(self.app.client.get('/projects')['projects'],
                              LIST_FIELDS, LIST_HEADERS)


class ShowProject(show.ShowOne):
    """Show a project by name or ID."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('project', metavar='<project>', help='Project name or ID.')
        return parser

    def take_action(self, parsed_args):
        return common.show(self.app.client.get('/projects/%s' % q(parsed_args.project)))


class DeleteProject(command.Command):
    """Delete projects (refused while they own images or nodes)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('projects', metavar='<project>', nargs='+',
                            help='Project name or ID.')
        return parser

    def take_action(self, parsed_args):
        failures = 0
        for name in parsed_args.projects:
            try:
                self.app.client.delete('/projects/%s' % q(name))
                common.note(self.app, 'Deleted project %s' % name)
            except m2_client.CommandError as exc:
                failures += 1
                self.app.stderr.write('%s\n' % exc)
        if failures:
            raise m2_client.CommandError('%d of %d projects could not be deleted'
                                         % (failures, len(parsed_args.projects)))
        return 0
