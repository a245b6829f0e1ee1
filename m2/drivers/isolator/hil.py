"""The ``hil`` isolator driver: nodes' NICs and power through HIL's REST API.

HIL (the Hardware Isolation Layer) owns the switches and the nodes' OBMs.
Each m2 project maps to a HIL project (which owns the node) and to a
provisioning network that project may use; the conductor passes them in,
and ``[hil] project`` / ``[hil] provisioning_network`` fill in for projects
that name neither. HIL answers networking calls with 202 and a status id,
which this driver polls until DONE or ERROR within ``[hil] action_timeout``.
"""

import logging
import re

from m2.common import exception, utils
from m2.conf import CONF
from m2.drivers import base
from m2.drivers.isolator import hil_client

LOG = logging.getLogger(__name__)

_CHANNEL_RE = re.compile(r'^vlan/(native|[0-9]{1,4})$')
_BOOT_DEVICES = ('pxe', 'disk', 'none')


class HILIsolatorDriver(base.IsolatorDriver):
    """Connects NICs to networks and power-cycles nodes through HIL."""

    name = 'hil'

    def __init__(self):
        self.client = hil_client.HILClient(CONF)

    # -- helpers ----------------------------------------------------------

    @staticmethod
    def _translate(err, node=None, nic=None, network=None):
        """Map a HIL 4xx (HILAPIError) onto m2's exception for the same fault."""
        msg = err.msg
        if err.status == 404:
            # HIL names the missing object first: "Nic eth9 on Node n1 does
            # not exist.", "Network prov does not exist.", "No port is ...".
            if msg.startswith('User '):
                return exception.Forbidden(action='HIL does not know the [hil] user (%s)' % msg)
            if msg.startswith('Network ') and network:
                return exception.NetworkNotFound(network=network)
            if msg.startswith('No port'):
                return exception.NotFound(
                    what='a switch port for NIC %s of node %s in HIL (%s)' % (nic, node, msg))
            if msg.startswith('Nic ') and nic:
                return exception.NicNotFound(node=node, nic=nic)
            if msg.startswith('Node ') and node:
                return exception.NodeNotFound(node=node)
            return exception.NotFound(what='in HIL: %s' % msg)
        if err.status == 409:
            return exception.IsolatorConflict(reason='HIL: %s' % msg)
        if err.status == 400:
            return exception.Invalid(reason='HIL: %s' % msg)
        return exception.BackendError(backend='HIL', reason='%s %s: HTTP %d %s: %s' % (
            err.method, err.url, err.status, err.type, msg))

    def _call(self, method, *segments, body=None, what=None, **names):
        try:
            return self.client.request(method, *segments, body=body, what=what)
        except hil_client.HILAPIError as err:
            raise self._translate(err, **names)

    def _show_node(self, node):
        info = self._call('GET', 'node', node, what='show node %s' % node, node=node)
        if not isinstance(info, dict):
            raise exception.BackendError(backend='HIL', reason='show node %s: not an object' % node)
        return info

    @staticmethod
    def _find_nic(info, node, nic):
        for entry in info.get('nics') or []:
            if entry.get('label') == nic:
                return entry
        raise exception.NicNotFound(node=node, nic=nic)

    @staticmethod
    def _channel(channel):
        channel = channel or CONF.hil.channel
        if not _CHANNEL_RE.match(channel or ''):
            raise exception.Invalid(
                reason='HIL channel %r: expected "vlan/native" or "vlan/<id>"' % channel)
        return channel

    @staticmethod
    def _network(network):
        network = network or CONF.hil.provisioning_network
        if not network:
            raise exception.Invalid(
                reason='no HIL provisioning network: map the project to one or set '
                       '[hil] provisioning_network')
        return network

    # -- IsolatorDriver ---------------------------------------------------

    def get_nic_mac(self, node, nic=None):
        """Return the MAC of ``node``'s NIC labelled ``nic`` (default [hil] nic_label).

        :raises NodeNotFound, NicNotFound:
        """
        nic = nic or CONF.hil.nic_label
        entry = self._find_nic(self._show_node(node), node, nic)
        try:
            return utils.normalize_mac(entry.get('macaddr'))
        except exception.InvalidMAC:
            raise exception.BackendError(backend='HIL', reason='NIC %s of node %s has MAC %r'
                                         % (nic, node, entry.get('macaddr')))

    def default_network(self):
        return CONF.hil.provisioning_network

    def attach_network(self, node, nic, network, project=None, channel=None):
        """Connect ``nic`` to ``network`` on ``channel`` and wait until done.

        ``project`` is the HIL project the node must belong to (default
        ``[hil] project``; checked only when one is known). Already attached
        on that channel is success.

        :raises NodeNotFound, NicNotFound, NetworkNotFound:
        :raises IsolatorConflict: wrong project, no access to the network, a
            pending action on the NIC, or the channel taken by another network.
        :raises BackendError: HIL's action ended in ERROR.
        :raises BackendUnavailable: HIL unreachable or the action timed out.
        """
        nic = nic or CONF.hil.nic_label
        network = self._network(network)
        channel = self._channel(channel)
        project = project or CONF.hil.project
        info = self._show_node(node)
        entry = self._find_nic(info, node, nic)
        if project and info.get('project') != project:
            raise exception.IsolatorConflict(
                reason='node %s belongs to HIL project %s, not %s'
                % (node, info.get('project') or '(none)', project))
        attached = entry.get('networks') or {}
        if attached.get(channel) == network:
            LOG.info('NIC %s of node %s is already on network %s (%s)', nic, node, network, channel)
            return
        what = 'connecting NIC %s of node %s to network %s' % (nic, node, network)
        try:
            answer = self.client.request(
                'POST', 'node', node, 'nic', nic, 'connect_network',
                body={'network': network, 'channel': channel}, what=what)
        except hil_client.HILAPIError as err:
            if err.status == 409 and 'already attached' in err.msg:
                # Attached between our look and our call: the goal is met.
                LOG.info('NIC %s of node %s was already on network %s', nic, node, network)
                return
            raise self._translate(err, node=node, nic=nic, network=network)
        self.client.wait_for_action(answer, what)
        LOG.info('Connected NIC %s of node %s to HIL network %s (%s)', nic, node, network, channel)

    def detach_network(self, node, nic, network, project=None):
        """Detach ``nic`` from ``network`` and wait until done.

        Not attached is success (HIL answers 400 for that).

        :raises NodeNotFound, NicNotFound, NetworkNotFound:
        :raises IsolatorConflict: a pending action on the NIC, node not in a project.
        :raises BackendError, BackendUnavailable: as for attach_network.
        """
        nic = nic or CONF.hil.nic_label
        network = self._network(network)
        what = 'detaching NIC %s of node %s from network %s' % (nic, node, network)
        try:
            answer = self.client.request(
                'POST', 'node', node, 'nic', nic, 'detach_network',
                body={'network': network}, what=what)
        except hil_client.HILAPIError as err:
            if err.status == 400 and 'not attached' in err.msg:
                LOG.info('NIC %s of node %s is not on network %s: nothing to detach',
                         nic, node, network)
                return
            raise self._translate(err, node=node, nic=nic, network=network)
        self.client.wait_for_action(answer, what)
        LOG.info('Detached NIC %s of node %s from HIL network %s', nic, node, network)

    def power_cycle(self, node, boot_device='pxe'):
        """Set ``node``'s next boot device, then power-cycle it (not forced).

        :raises NodeNotFound:
        :raises IsolatorConflict: HIL cannot manage the node's power (no OBM).
        """
        if boot_device not in _BOOT_DEVICES:
            raise exception.Invalid(reason='boot device %r is not one of %s'
                                    % (boot_device, ', '.join(_BOOT_DEVICES)))
        self._call('PUT', 'node', node, 'boot_device', body={'bootdev': boot_device},
                   what='setting boot device of node %s to %s' % (node, boot_device), node=node)
        self._call('POST', 'node', node, 'power_cycle', body={'force': False},
                   what='power-cycling node %s' % node, node=node)
        LOG.info('Power-cycled node %s to boot from %s', node, boot_device)

    def power_off(self, node):
        """Power ``node`` off; already off is success (HIL answers 200).

        :raises NodeNotFound, IsolatorConflict:
        """
        self._call('POST', 'node', node, 'power_off', what='powering off node %s' % node,
                   node=node)
        LOG.info('Powered off node %s', node)
