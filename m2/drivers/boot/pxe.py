"""The ``pxe`` boot driver: pxelinux loads iPXE, which runs the node's script.

``pxelinux.cfg/01-<mac-with-dashes>`` boots ``[boot] pxe_ipxe_kernel``
(``ipxe.lkrn``) with the node's iPXE script ``m2/<mac-with-dashes>.ipxe`` as
its initrd; the script runs ``dhcp`` itself (iPXE starts unconfigured) and
``sanboot``s the node's target.
"""

import logging

from m2.common import exception, utils
from m2.conf import CONF
from m2.drivers.boot import common

LOG = logging.getLogger(__name__)

PXELINUX_DIR = 'pxelinux.cfg'
PXELINUX_PREFIX = '01-'  # ARP hardware type 1 (Ethernet), as pxelinux asks


def pxelinux_relpath(mac):
    """Path of a node's pxelinux configuration, relative to the TFTP root."""
    return '%s/%s%s' % (PXELINUX_DIR, PXELINUX_PREFIX, common.mac_dashes(mac))


class PXEBootDriver(common.TemplateBootDriver):
    """Writes ``pxelinux.cfg/01-<mac>`` and ``m2/<mac>.ipxe`` per node."""

    name = 'pxe'

    def __init__(self):
        super().__init__()
        kernel = CONF.boot.pxe_ipxe_kernel
        if '..' in kernel.split('/'):
            raise exception.Invalid(reason='[boot] pxe_ipxe_kernel must stay in the TFTP root')
        self.ipxe_kernel = kernel

    def render_pxelinux(self, node):
        """Return the pxelinux configuration of ``node`` (validated)."""
        mac = utils.normalize_mac(node.get('mac'))
        return self._env.get_template('pxelinux.cfg.j2').render(
            name=utils.validate_name(node.get('name'), field='node'), mac=mac,
            ipxe_kernel=self.ipxe_kernel, script=common.script_relpath(mac))

    def prepare(self, node):
        # Script first: the configuration that points at it comes second.
        script = self._write_script(node)
        config = self._write(pxelinux_relpath(node.get('mac')), self.render_pxelinux(node))
        return [script, config]

    def clean(self, node):
        self._remove(pxelinux_relpath(node.get('mac')))
        super().clean(node)

    def list_nodes(self):
        return sorted(self._script_macs()
                      | self._macs_in(PXELINUX_DIR, PXELINUX_PREFIX, ''))
