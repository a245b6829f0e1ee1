"""Find a node's address in dnsmasq's DHCP lease file (for ``m2 node ip``).

dnsmasq writes one lease a line: ``<expiry> <mac> <ip> <hostname> <client-id>``
(expiry in seconds since the epoch, 0 for an infinite lease); DHCPv6 leases
follow a ``duid`` line with a different shape and are skipped.
"""

import logging

from m2.common import exception, utils

LOG = logging.getLogger(__name__)


def find_ip(leases_path, mac, node=None):
    """Return the IP address of the newest lease of ``mac``.

    :raises LeaseNotFound: no lease for it (or no lease file at all).
    :raises BackendUnavailable: the lease file cannot be read.
    """
    mac = utils.normalize_mac(mac)
    best = None
    try:
        with open(leases_path, encoding='utf-8', errors='replace') as f:
            for line in f:
                fields = line.split()
                if len(fields) < 3 or fields[0] == 'duid':
                    continue
                try:
                    expiry = int(fields[0])
                    lease_mac = utils.normalize_mac(fields[1])
                except (ValueError, exception.InvalidMAC):
                    continue  # DHCPv6 or non-Ethernet lease
                if lease_mac != mac:
                    continue
                rank = float('inf') if expiry == 0 else expiry
                if best is None or rank >= best[0]:
                    best = (rank, fields[2])
    except FileNotFoundError:
        LOG.warning('DHCP lease file %s does not exist', leases_path)
    except OSError as exc:
        raise exception.BackendUnavailable(backend='DHCP lease file', reason=exc)
    if best is None:
        raise exception.LeaseNotFound(node=node or mac, mac=mac)
    return best[1]
