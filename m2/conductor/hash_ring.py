"""Which conductor owns which node: a consistent hash ring of live conductors.

The ring (tooz's, as Ironic uses) is built from the ``conductors`` table:
every conductor that is online and heartbeating within ``[conductor]
heartbeat_timeout``. m2-api sends a node's provision, deprovision and
snapshot to its owner, and each conductor's periodic check restores only the
targets of the nodes it owns, so that work is spread and each node has one
place where it is handled. When a conductor dies, its nodes fall to the others
as soon as the rings are rebuilt (every ``[conductor] hash_ring_reset_interval``
seconds); the operations it was running are rolled back by the takeover.
"""

import threading
import time

from m2.conf import CONF


class _SingleHost:
    """The ring of one conductor: it owns everything."""

    def __init__(self, host):
        self.host = host

    def get_nodes(self, data):
        return {self.host}


class HashRing:
    """A cached ring over the live conductors of one database."""

    def __init__(self, db):
        self.db = db
        self._lock = threading.Lock()
        self._ring = None
        self._built_at = None

    def _build(self):
        hosts = set(self.db.list_live_conductors(CONF.conductor.heartbeat_timeout))
        if len(hosts) <= 1:
            # Nothing to spread (m2-server, one conductor): spare importing
            # tooz, whose futurist prints an eventlet warning at start.
            return _SingleHost(hosts.pop()) if hosts else None
        from tooz import hashring
        return hashring.HashRing(hosts, partitions=2 ** CONF.conductor.hash_partition_exponent)

    def _current(self):
        with self._lock:
            now = time.monotonic()
            if (self._built_at is None
                    or now - self._built_at >= CONF.conductor.hash_ring_reset_interval):
                self._ring = self._build()
                self._built_at = now
            return self._ring

    def reset(self):
        """Rebuild on next use (a conductor joined or left)."""
        with self._lock:
            self._built_at = None

    def owner(self, node_name):
        """The host owning ``node_name``, or None when no conductor is alive."""
        ring = self._current()
        if ring is None:
            return None
        return next(iter(ring.get_nodes(node_name.encode('utf-8'))))

    def owns(self, host, node_name):
        """True when ``host`` owns ``node_name`` (or nobody is alive to)."""
        return self.owner(node_name) in (host, None)
