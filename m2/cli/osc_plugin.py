"""The python-openstackclient plugin: ``openstack m2 image list`` and friends.

Registered by the ``openstack.cli.extension`` entry point (``m2``); the
commands are the ``m2`` CLI's own classes (group ``openstack.m2.v1``), run
with the API client OSC builds from its authenticated session: the same
``OS_*`` variables, ``--os-cloud`` and clouds.yaml as every other
``openstack`` command. The endpoint comes from the catalog (service type
``baremetal-imaging``) unless ``--os-m2-endpoint`` / ``M2_URL`` is given.
"""

import logging
import os

from m2.cli import audit, conductor, image, node, project, snapshot, target
from m2.cli import client as m2_client

LOG = logging.getLogger(__name__)

API_NAME = 'm2'
API_VERSION_OPTION = 'os_m2_api_version'
API_VERSIONS = {'1': 'm2.cli.client.Client'}
DEFAULT_API_VERSION = '1'
SERVICE_TYPE = 'baremetal-imaging'


def make_client(instance):
    """The M2 API client, on OSC's session (OSC calls this on first use)."""
    endpoint = _cli_option(instance, 'm2_endpoint')
    LOG.debug('M2 endpoint: %s', endpoint or 'from the catalog')
    return m2_client.Client(instance.session, endpoint=endpoint, service_type=SERVICE_TYPE,
                            interface=instance.interface, region_name=instance.region_name)


def _cli_option(instance, name):
    # OSC keeps the parsed global options in the cloud config it built.
    options = getattr(instance, '_cli_options', None)
    config = getattr(options, 'config', None) or {}
    return config.get(name) or getattr(options, name, None)


def build_option_parser(parser):
    """Add the plugin's global options to ``openstack``."""
    parser.add_argument(
        '--os-m2-api-version', metavar='<version>',
        default=os.environ.get('OS_M2_API_VERSION', DEFAULT_API_VERSION),
        help='M2 API version, default %s (env OS_M2_API_VERSION).' % DEFAULT_API_VERSION)
    parser.add_argument(
        '--os-m2-endpoint', metavar='<url>', default=os.environ.get('M2_URL'),
        help='URL of the M2 API instead of the catalog\'s (env M2_URL).')
    return parser


class _OSCApp:
    """What the m2 commands expect of ``self.app``, on top of OSC's shell.

    The commands call ``self.app.client``; under OSC the client lives in the
    client manager. Everything else (stdout, stderr, options) is OSC's.
    """

    def __init__(self, app):
        self._app = app

    @property
    def client(self):
        return self._app.client_manager.m2

    def __getattr__(self, name):
        return getattr(self._app, name)


def _osc(command_class):
    """``command_class`` running against OSC's client manager."""

    class Command(command_class):
        __doc__ = command_class.__doc__

        def __init__(self, app, app_args, cmd_name=None):
            super().__init__(_OSCApp(app), app_args, cmd_name)

    Command.__name__ = Command.__qualname__ = command_class.__name__
    return Command


ListImage = _osc(image.ListImage)
ShowImage = _osc(image.ShowImage)
ImportImage = _osc(image.ImportImage)
UploadImage = _osc(image.UploadImage)
DownloadImage = _osc(image.DownloadImage)
ExportImage = _osc(image.ExportImage)
CopyImage = _osc(image.CopyImage)
MoveImage = _osc(image.MoveImage)
DeleteImage = _osc(image.DeleteImage)
ListSnapshot = _osc(snapshot.ListSnapshot)
DeleteSnapshot = _osc(snapshot.DeleteSnapshot)
ProvisionNode = _osc(node.ProvisionNode)
DeprovisionNode = _osc(node.DeprovisionNode)
SnapshotNode = _osc(node.SnapshotNode)
ListNode = _osc(node.ListNode)
ShowNode = _osc(node.ShowNode)
NodeIP = _osc(node.NodeIP)
CreateProject = _osc(project.CreateProject)
ListProject = _osc(project.ListProject)
ShowProject = _osc(project.ShowProject)
DeleteProject = _osc(project.DeleteProject)
ListTarget = _osc(target.ListTarget)
ListConductor = _osc(conductor.ListConductor)
RunAudit = _osc(audit.RunAudit)
