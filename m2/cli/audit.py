"""``m2 audit``: compare the database with storage, targets and boot files.

Exit status: 0 when everything is consistent (after fixing, with ``--fix``)
and no repair failed; 1 when something is left orphaned or missing, or a
repair failed. Scripts can run ``m2 audit`` as a health check.
"""

from cliff import show

from m2.cli import common

SECTIONS = ('storage', 'snapshots', 'targets', 'boot_files')
FIELDS = SECTIONS + ('rollbacks_pending', 'fixed', 'errors', 'clean')


class RunAudit(show.ShowOne):
    """Find leaked or missing storage images, snapshots, targets and boot files.

    Exit status 0 when clean, 1 when something was found and not fixed.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--fix', action='store_true',
                            help='Remove orphans and restore missing targets and boot '
                                 'files, then report what is left.')
        return parser

    def take_action(self, parsed_args):
        if parsed_args.fix:
            report = self.app.client.post('/audit', {'fix': True})
        else:
            report = self.app.client.get('/audit')
        self._healthy = bool(report.get('clean')) and not report.get('errors')
        return common.show(report, FIELDS)

    def run(self, parsed_args):
        self._healthy = False
        super().run(parsed_args)
        return 0 if self._healthy else 1
