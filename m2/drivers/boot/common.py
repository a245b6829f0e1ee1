"""What the pxe and ipxe boot drivers share: validation, templates, file names.

Every value that reaches a template or a file name is validated here first:
the templates are rendered without autoescaping (iPXE and pxelinux have no
escaping), so a value is either known safe or refused. File names come from
the normalized MAC only, and every path is resolved under ``[boot] tftp_root``.
"""

import contextlib
import logging
import os
import re

import jinja2

from m2.common import exception, utils
from m2.conf import CONF
from m2.drivers import base, jsonstate

LOG = logging.getLogger(__name__)

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'templates')
SCRIPT_DIR = 'm2'
SCRIPT_SUFFIX = '.ipxe'

_PORTAL_RE = re.compile(
    r'^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(?P<port>\d{1,5})$')
# What may follow "set username"/"set password" in an iPXE script: no
# whitespace (argument split), no "$" or braces (setting expansion), no "#".
_CHAP_USER_RE = re.compile(r'^[A-Za-z0-9._:@-]{1,255}$')
_CHAP_SECRET_RE = re.compile(r'^[A-Za-z0-9._~+/=:@-]{1,255}$')
_INTERFACE_RE = re.compile(r'^[A-Za-z0-9_-]{1,32}$')


def mac_dashes(mac):
    """``52:54:00:12:34:56`` -> ``52-54-00-12-34-56`` (after validating it)."""
    return utils.normalize_mac(mac).replace(':', '-')


def script_relpath(mac):
    """Path of a node's iPXE script, relative to the TFTP root."""
    return '%s/%s%s' % (SCRIPT_DIR, mac_dashes(mac), SCRIPT_SUFFIX)


def validate_portal(portal):
    """Return ``(host, port)`` of a ``host:port`` portal or raise Invalid."""
    match = _PORTAL_RE.fullmatch(portal) if isinstance(portal, str) else None
    if not match or not 0 < int(match.group('port')) < 65536:
        raise exception.Invalid(reason='portal %r is not host:port' % (portal,))
    return match.group('host'), int(match.group('port'))


def iscsi_uri(portal, lun, iqn):
    """The iPXE SAN URI ``iscsi:<host>::<port>:<lun>:<iqn>`` of one portal."""
    host, port = validate_portal(portal)
    return 'iscsi:%s::%d:%d:%s' % (host, port, lun, iqn)


def _validate_chap(chap):
    if chap is None:
        return None
    try:
        user, secret = chap
    except (TypeError, ValueError):
        raise exception.Invalid(reason='chap must be (user, secret)')
    if not isinstance(user, str) or not _CHAP_USER_RE.fullmatch(user):
        raise exception.Invalid(reason='CHAP user %r has characters iPXE cannot take' % (user,))
    if not isinstance(secret, str) or not _CHAP_SECRET_RE.fullmatch(secret):
        # Never echo a secret into a message or a log.
        raise exception.Invalid(reason='CHAP secret has characters iPXE cannot take')
    return {'user': user, 'secret': secret}


def script_context(node):
    """Validate ``node`` (see ``BootDriver.prepare``) into the template context."""
    if not isinstance(node, dict):
        raise exception.Invalid(reason='node must be a dict')
    target = node.get('target')
    if not isinstance(target, dict):
        raise exception.Invalid(reason='node target must be a dict')
    target_iqn = utils.validate_iqn(target.get('iqn'))
    lun = target.get('lun', 1)
    if not isinstance(lun, int) or isinstance(lun, bool) or not 0 <= lun < 65536:
        raise exception.Invalid(reason='LUN %r is not a number from 0 to 65535' % (lun,))
    portals = target.get('portals')
    if not isinstance(portals, (list, tuple)) or not portals:
        raise exception.Invalid(reason='the target has no portals')
    interface = CONF.boot.interface
    if interface is not None and not _INTERFACE_RE.fullmatch(interface):
        raise exception.Invalid(reason='[boot] interface %r is not an iPXE interface' % interface)
    return {
        'name': utils.validate_name(node.get('name'), field='node'),
        'mac': utils.normalize_mac(node.get('mac')),
        'initiator_iqn': utils.validate_iqn(node.get('initiator_iqn')),
        'target_iqn': target_iqn,
        'uris': [iscsi_uri(p, lun, target_iqn) for p in portals],
        'chap': _validate_chap(node.get('chap')),
        'interface': interface,
        'keep_san': CONF.boot.keep_san,
        'attempts': CONF.boot.sanboot_retries + 1,
        'retry_delay': CONF.boot.sanboot_retry_delay,
    }


class TemplateBootDriver(base.BootDriver):
    """Base of the boot drivers: renders templates into files under the TFTP root."""

    def __init__(self):
        self.root = os.path.realpath(CONF.boot.tftp_root)
        os.makedirs(self.root, exist_ok=True)
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            # iPXE and pxelinux have no escaping: values are validated instead.
            autoescape=False,  # noqa: S701
            undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
            trim_blocks=True, lstrip_blocks=True)
        self._script_template = self._load_script_template()

    def _load_script_template(self):
        override = CONF.boot.ipxe_template
        if not override:
            return self._env.get_template('node.ipxe.j2')
        try:
            with open(override, encoding='utf-8') as f:
                source = f.read()
        except OSError as exc:
            raise exception.BackendError(backend='boot', reason='[boot] ipxe_template: %s' % exc)
        LOG.info('Using iPXE script template %s', override)
        return self._env.from_string(source)

    # -- files -------------------------------------------------------------

    def _path(self, relpath):
        return utils.safe_join(self.root, relpath)

    def _write(self, relpath, content):
        path = self._path(relpath)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # World-readable: the TFTP server serves it.
        jsonstate.write_atomic(path, content, mode=0o644)
        LOG.debug('Wrote boot file %s', path)
        return path

    def _remove(self, relpath):
        path = self._path(relpath)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
            LOG.debug('Removed boot file %s', path)

    def _macs_in(self, reldir, prefix, suffix):
        """MACs named by files ``<prefix><mac-with-dashes><suffix>`` in ``reldir``."""
        try:
            entries = os.listdir(self._path(reldir))
        except FileNotFoundError:
            return set()
        macs = set()
        for entry in entries:
            if entry.startswith(prefix) and entry.endswith(suffix):
                with contextlib.suppress(exception.InvalidMAC):
                    macs.add(utils.normalize_mac(entry[len(prefix):len(entry) - len(suffix)]))
        return macs

    # -- the per-node iPXE script -------------------------------------------

    def render_script(self, node):
        """Return the iPXE script of ``node`` (validated)."""
        return self._script_template.render(**script_context(node))

    def _write_script(self, node):
        return self._write(script_relpath(node.get('mac')), self.render_script(node))

    def _script_macs(self):
        return self._macs_in(SCRIPT_DIR, '', SCRIPT_SUFFIX)

    def clean(self, node):
        self._remove(script_relpath(node.get('mac')))

    def list_nodes(self):
        return sorted(self._script_macs())
