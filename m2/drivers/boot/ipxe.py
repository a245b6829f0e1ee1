"""The ``ipxe`` boot driver: a per-node iPXE script chained by MAC.

Nodes whose firmware runs iPXE (or that DHCP hands ``boot.ipxe`` to) fetch
``boot.ipxe`` from the TFTP root, which chains ``m2/<mac-with-dashes>.ipxe``
(iPXE's ``${netX/mac:hexhyp}``); that script sets the initiator name (and
CHAP) and ``sanboot``s the node's target.
"""

import logging
import os

from m2.drivers.boot import common

LOG = logging.getLogger(__name__)

CHAIN_SCRIPT = 'boot.ipxe'


class IPXEBootDriver(common.TemplateBootDriver):
    """Writes ``m2/<mac>.ipxe`` per node and, once, the generic ``boot.ipxe``."""

    name = 'ipxe'

    def _ensure_chain_script(self):
        # Written once: after that the operator owns it and may edit it.
        if not os.path.exists(self._path(CHAIN_SCRIPT)):
            content = self._env.get_template('boot.ipxe.j2').render(script_dir=common.SCRIPT_DIR)
            path = self._write(CHAIN_SCRIPT, content)
            LOG.info('Wrote the generic iPXE chain script %s', path)

    def prepare(self, node):
        """Write the node's script; return ``[its path]`` (``boot.ipxe`` is shared)."""
        script = self._write_script(node)
        self._ensure_chain_script()
        return [script]
