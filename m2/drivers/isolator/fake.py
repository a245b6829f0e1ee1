"""The ``fake`` network isolator: nodes, NICs, networks and power in a JSON file.

State (``[fake] isolator_state_file``, readable by a person)::

    {"nodes": {"<node>": {"nics": {"<label>": {"mac": "52:54:00:..",
                                               "networks": {"<channel>": "<network>"}}},
                          "power": "on" | "off", "boot_device": "pxe",
                          "power_cycles": 0}}}

A node the isolator has not seen is created on first use, and so is a NIC
label not seen on it, with a MAC derived from the node name and label (so the
same node always gets the same MAC): ``52:54:00`` and three bytes of
SHA-256. Like HIL, a NIC carries at most one network per channel: attaching
another network on a busy channel is an ``IsolatorConflict``.
"""

import hashlib
import logging

from m2.common import exception, utils
from m2.conf import CONF
from m2.drivers import base, jsonstate

LOG = logging.getLogger(__name__)

DEFAULT_CHANNEL = 'vlan/native'
BOOT_DEVICES = ('pxe', 'disk', 'network', 'cdrom', 'bios')


def derive_mac(node, nic):
    """The deterministic, locally administered MAC of ``node``'s ``nic``."""
    digest = hashlib.sha256(('%s/%s' % (node, nic)).encode('utf-8')).digest()
    return '52:54:00:' + ':'.join('%02x' % b for b in digest[:3])


def _validate_channel(channel):
    # HIL channels look like "vlan/native" or "vlan/100".
    if channel is None:
        return DEFAULT_CHANNEL
    return utils.validate_nic_label(channel)


class FakeIsolatorDriver(base.IsolatorDriver):
    """Isolation and power as JSON records; see the module docstring."""

    name = 'fake'

    def __init__(self):
        self._state = jsonstate.StateFile(CONF.fake.isolator_state_file,
                                          default=lambda: {'nodes': {}})

    @staticmethod
    def _node(state, node):
        return state['nodes'].setdefault(
            node, {'nics': {}, 'power': 'off', 'boot_device': None, 'power_cycles': 0})

    @classmethod
    def _nic(cls, state, node, nic):
        return cls._node(state, node)['nics'].setdefault(
            nic, {'mac': derive_mac(node, nic), 'networks': {}})

    def get_nic_mac(self, node, nic):
        utils.validate_name(node, field='node')
        utils.validate_nic_label(nic)
        with self._state.update() as state:
            return self._nic(state, node, nic)['mac']

    def attach_network(self, node, nic, network, project=None, channel=None):
        utils.validate_name(node, field='node')
        utils.validate_nic_label(nic)
        utils.validate_name(network, field='network')
        channel = _validate_channel(channel)
        with self._state.update() as state:
            networks = self._nic(state, node, nic)['networks']
            current = networks.get(channel)
            if current not in (None, network):
                raise exception.IsolatorConflict(
                    reason='%s %s is already on network %s on channel %s'
                           % (node, nic, current, channel))
            networks[channel] = network
        LOG.info('Fake isolator: %s %s attached to %s (%s)', node, nic, network, channel)

    def detach_network(self, node, nic, network, project=None):
        utils.validate_name(node, field='node')
        utils.validate_nic_label(nic)
        utils.validate_name(network, field='network')
        with self._state.update() as state:
            nic_state = state['nodes'].get(node, {}).get('nics', {}).get(nic)
            if nic_state is None:
                return
            for channel, attached in list(nic_state['networks'].items()):
                if attached == network:
                    del nic_state['networks'][channel]
                    LOG.info('Fake isolator: %s %s detached from %s', node, nic, network)

    def power_cycle(self, node, boot_device='pxe'):
        utils.validate_name(node, field='node')
        if boot_device not in BOOT_DEVICES:
            raise exception.Invalid(reason='boot device must be one of %s'
                                    % ', '.join(BOOT_DEVICES))
        with self._state.update() as state:
            record = self._node(state, node)
            record['boot_device'] = boot_device
            record['power'] = 'on'
            record['power_cycles'] += 1
        LOG.info('Fake isolator: %s power-cycled to boot from %s', node, boot_device)

    def power_off(self, node):
        utils.validate_name(node, field='node')
        with self._state.update() as state:
            self._node(state, node)['power'] = 'off'

    # -- for the audit and tests ---------------------------------------------

    def attachments(self):
        """Return ``[{'node', 'nic', 'network', 'channel'}]`` for every attachment."""
        result = []
        for node, record in sorted(self._state.read()['nodes'].items()):
            for nic, nic_state in sorted(record['nics'].items()):
                for channel, network in sorted(nic_state['networks'].items()):
                    result.append({'node': node, 'nic': nic, 'network': network,
                                   'channel': channel})
        return result

    def node_state(self, node):
        """Return the recorded state of ``node`` (a copy), or None if unknown."""
        return self._state.read()['nodes'].get(node)
