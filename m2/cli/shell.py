"""``m2``: the command-line client of M2, a cliff application.

Where it finds the API, in order:

* ``--os-cloud`` / ``OS_CLOUD``: a cloud of ``clouds.yaml`` (openstacksdk's
  loader), with the endpoint from its catalog unless ``--os-endpoint`` is given;
* ``--os-auth-url`` / ``OS_AUTH_URL`` (or ``--os-auth-type``): Keystone auth
  from the standard ``OS_*`` variables through keystoneauth1, endpoint from the
  catalog (service type ``--os-service-type``, default ``baremetal-imaging``)
  unless ``--os-endpoint`` is given;
* otherwise ``--os-endpoint`` / ``M2_URL`` with no authentication (the
  embedded default, ``m2-server`` with ``[api] auth_strategy = noauth``).
"""

import argparse
import logging
import os
import sys

from cliff import app, commandmanager, complete
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading

from m2 import version
from m2.cli import client as m2_client

LOG = logging.getLogger(__name__)

DEFAULT_SERVICE_TYPE = 'baremetal-imaging'


def _env(*names, default=None):
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return default


class M2App(app.App):
    """The ``m2`` application: global options, the API client, the commands."""

    # cliff would take the name from sys.argv[0] (wrong under tests and -m).
    NAME = 'm2'

    def __init__(self, stdin=None, stdout=None, stderr=None):
        super().__init__(
            description='M2 (Malleable Metal as a Service): bare-metal nodes that boot '
                        'from copy-on-write clones of images.',
            version=version.version_string(),
            command_manager=commandmanager.CommandManager('m2.cli'),
            deferred_help=True,
            stdin=stdin, stdout=stdout, stderr=stderr)
        self.command_manager.add_command('complete', complete.CompleteCommand)
        self._client = None
        self._handlers = []

    def build_option_parser(self, description, version, argparse_kwargs=None):
        parser = super().build_option_parser(description, version, argparse_kwargs)
        for action in parser._actions:
            # cliff formats it with App.NAME, the script name of sys.argv[0].
            if isinstance(action, argparse._VersionAction):
                action.version = '%s %s' % (self.NAME, version)
        parser.add_argument(
            '--os-endpoint', metavar='<url>', default=_env('M2_URL', 'OS_ENDPOINT'),
            help='URL of the M2 API, e.g. http://127.0.0.1:6385 (env M2_URL). Without '
                 'Keystone options, requests are sent there unauthenticated.')
        parser.add_argument(
            '--os-cloud', metavar='<name>', default=_env('OS_CLOUD'),
            help='Cloud of clouds.yaml to authenticate with (env OS_CLOUD).')
        parser.add_argument(
            '--os-service-type', metavar='<type>',
            default=_env('M2_SERVICE_TYPE', default=DEFAULT_SERVICE_TYPE),
            help='Service type of M2 in the Keystone catalog (default %s).'
                 % DEFAULT_SERVICE_TYPE)
        parser.add_argument(
            '--os-interface', metavar='<interface>', default=_env('OS_INTERFACE',
                                                                  default='public'),
            help='Catalog interface: public, internal or admin (env OS_INTERFACE).')
        parser.add_argument(
            '--os-region-name', metavar='<region>', default=_env('OS_REGION_NAME'),
            help='Catalog region (env OS_REGION_NAME).')
        # A subset of keystoneauth's session options: its --timeout would
        # swallow the --timeout of the waiting commands.
        parser.add_argument('--insecure', action='store_true', default=False,
                            help='Do not verify the server\'s TLS certificate.')
        parser.add_argument('--os-cacert', metavar='<file>', default=_env('OS_CACERT'),
                            help='CA bundle to verify TLS servers (env OS_CACERT).')
        parser.add_argument('--os-cert', metavar='<file>', default=_env('OS_CERT'),
                            help='Client certificate, PEM (env OS_CERT).')
        parser.add_argument('--os-key', metavar='<file>', default=_env('OS_KEY'),
                            help='Client private key, PEM (env OS_KEY).')
        return parser

    def run(self, argv):
        argv = list(argv)
        # The auth plugin's options (--os-username, ...) depend on which
        # plugin is chosen, so they can only be added once argv is known.
        wants_auth = _env('OS_AUTH_URL') or any(
            a == '--os-auth-url' or a.startswith('--os-auth-url=') for a in argv)
        try:
            loading.register_auth_argparse_arguments(
                self.parser, argv, default='password' if wants_auth else None)
        except ks_exc.NoMatchingPlugin as exc:
            self.stderr.write('m2: %s\n' % exc)
            return 2
        try:
            return super().run(argv)
        finally:
            self._remove_log_handlers()

    def configure_logging(self):
        root = logging.getLogger('')
        before = list(root.handlers)
        super().configure_logging()
        self._handlers = [h for h in root.handlers if h not in before]
        # keystoneauth and urllib3 chatter only with --debug.
        if not self.options.debug:
            for name in ('keystoneauth', 'urllib3', 'stevedore'):
                logging.getLogger(name).setLevel(logging.WARNING)

    def _remove_log_handlers(self):
        # main() may be called many times in one process (tests, scripts).
        root = logging.getLogger('')
        for handler in self._handlers:
            root.removeHandler(handler)
        self._handlers = []

    @property
    def client(self):
        """The API client, built on first use (``--help`` needs no endpoint)."""
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self):
        opts = self.options
        kwargs = {'endpoint': opts.os_endpoint, 'service_type': opts.os_service_type,
                  'interface': opts.os_interface, 'region_name': opts.os_region_name}
        try:
            if opts.os_cloud:
                from openstack import config as os_config
                region = os_config.OpenStackConfig().get_one(
                    cloud=opts.os_cloud, region_name=opts.os_region_name)
                return m2_client.Client(region.get_session(), **kwargs)
            auth = loading.load_auth_from_argparse_arguments(opts)
        except Exception as exc:
            raise m2_client.CommandError('Cannot load the credentials: %s' % exc)
        if auth is None and not opts.os_endpoint:
            raise m2_client.CommandError(
                'No M2 API to talk to: set M2_URL or --os-endpoint (no auth), or the '
                'Keystone variables (OS_AUTH_URL, OS_USERNAME, ...) or OS_CLOUD.')
        session = loading.session.Session().load_from_options(
            auth=auth, insecure=opts.insecure, cacert=opts.os_cacert, cert=opts.os_cert,
            key=opts.os_key)
        return m2_client.Client(session, **kwargs)


def main(argv=None):
    """Run ``m2``; return the exit code (2 for bad usage, as argparse says)."""
    try:
        return M2App().run(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        # argparse exits on usage errors and --version/--help.
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        sys.stderr.write('%s\n' % exc.code)
        return 1


if __name__ == '__main__':
    sys.exit(main())
