"""A small wrapper around the rados/rbd bindings (os-brick's RBD shape).

One cluster connection per process and per set of settings, made lazily with
the configured timeouts, shared by every operation, and dropped after a
connection-class failure so that the next operation reconnects. Images and
pool contexts are only handed out through context managers that always close
them. Library errors leaving those context managers are translated into
``m2.common.exception`` errors by :func:`to_domain`.

Debian's ``python3-rados``/``python3-rbd`` provide the bindings (PyPI has
none); ``tools/ceph.sh install`` makes them importable in the venv.
"""

import contextlib
import errno
import logging
import os
import threading

from m2.common import exception

try:  # Optional: only a conductor that uses the ceph driver needs them.
    import rados
    import rbd
except ImportError:  # pragma: no cover - depends on the machine
    rados = rbd = None

LOG = logging.getLogger(__name__)

BACKEND = 'ceph'

# errnos that mean "the cluster did not answer", not "the request was wrong".
_CONNECTION_ERRNOS = frozenset({
    errno.ETIMEDOUT, errno.ESHUTDOWN, errno.ENOTCONN, errno.ECONNREFUSED,
    errno.ECONNRESET, errno.ECONNABORTED, errno.EHOSTUNREACH, errno.ENETUNREACH,
})


def _errno(exc):
    return getattr(exc, 'errno', None)


def _classes(module, *names):
    """The named exception classes a bindings module has (older ones lack some)."""
    if module is None:
        return ()
    return tuple(getattr(module, n) for n in names if isinstance(getattr(module, n, None), type))


def is_library_error(exc):
    return isinstance(exc, _classes(rados, 'Error') + _classes(rbd, 'Error'))


def is_connection_error(exc):
    """True when ``exc`` says the cluster is unreachable or did not answer."""
    if isinstance(exc, _classes(rados, 'TimedOut', 'ConnectionShutdown', 'NotConnected')
                  + _classes(rbd, 'Timeout', 'ConnectionShutdown')):
        return True
    return is_library_error(exc) and abs(_errno(exc) or 0) in _CONNECTION_ERRNOS


def to_domain(exc, name=None, snapshot=None):
    """Return the m2 exception for a rados/rbd error about ``name[@snapshot]``.

    Context-free mapping only: callers that know better (removing a
    protected snapshot gives ImageBusy, cloning an unprotected one gives
    InvalidArgument) translate those cases themselves before this runs.
    """
    if isinstance(exc, exception.M2Exception):
        return exc
    if is_connection_error(exc):
        return exception.BackendUnavailable(backend=BACKEND, reason=str(exc))
    if isinstance(exc, _classes(rbd, 'ImageNotFound') + _classes(rados, 'ObjectNotFound')):
        if snapshot is not None:
            return exception.StorageSnapshotNotFound(name=name, snapshot=snapshot)
        return exception.StorageImageNotFound(name=name)
    if isinstance(exc, _classes(rbd, 'ImageExists') + _classes(rados, 'ObjectExists')):
        return exception.StorageImageExists(name=name)
    if isinstance(exc, _classes(rbd, 'ImageHasSnapshots')):
        return exception.StorageHasSnapshots(name=name)
    if isinstance(exc, _classes(rbd, 'ImageBusy') + _classes(rados, 'ObjectBusy')):
        return exception.StorageImageBusy(name=name, reason=str(exc))
    if isinstance(exc, _classes(rbd, 'PermissionError') + _classes(rados, 'PermissionError')):
        return exception.BackendError(
            backend=BACKEND, reason='permission denied (check the cephx user\'s caps): %s' % exc)
    if isinstance(exc, _classes(rbd, 'NoSpace', 'DiskQuotaExceeded') + _classes(rados, 'NoSpace')):
        return exception.BackendError(backend=BACKEND, reason='out of space: %s' % exc)
    return exception.BackendError(backend=BACKEND, reason='%s: %s' % (type(exc).__name__, exc))


class _Handle:
    """A connected cluster plus the count of operations using it.

    A failed handle is only shut down once no operation uses it any more:
    ``rados_shutdown`` under a thread still inside librados would crash.
    """

    def __init__(self, cluster):
        self.cluster = cluster
        self.pid = os.getpid()
        self.users = 0
        self.stale = False


class RBDClient:
    """Connection holder for one cluster; hand out pools and images."""

    def __init__(self, conffile, user, keyring=None, connect_timeout=10, operation_timeout=30):
        self.conffile = conffile
        self.user = user
        self.keyring = keyring
        self.connect_timeout = connect_timeout
        self.operation_timeout = operation_timeout
        self._lock = threading.Lock()
        self._handle = None

    # -- connection -----------------------------------------------------
    def _connect(self):
        if rados is None:
            raise exception.BackendUnavailable(
                backend=BACKEND,
                reason='the rados/rbd Python bindings are not importable; '
                       'run tools/ceph.sh install')
        timeout = str(self.operation_timeout)
        conf = {
            # Without these librados waits forever for a dead cluster.
            'rados_mon_op_timeout': timeout,
            'rados_osd_op_timeout': timeout,
            'client_mount_timeout': str(self.connect_timeout),
            # Clone format 1: a snapshot must be protected to be cloned and
            # cannot be removed while clones depend on it -- the model m2
            # keeps in its database, whatever the cluster's min client.
            'rbd_default_clone_format': '1',
        }
        if self.keyring:
            conf['keyring'] = self.keyring
        try:
            cluster = rados.Rados(conffile=self.conffile, rados_id=self.user, conf=conf)
        except Exception as exc:  # a missing or unreadable conffile
            raise exception.BackendUnavailable(
                backend=BACKEND, reason='cannot load %s: %s' % (self.conffile, exc))
        try:
            cluster.connect(timeout=self.connect_timeout)
        except Exception as exc:
            cluster.shutdown()
            # Unreachable, refused, or a bad key: either way no storage.
            raise exception.BackendUnavailable(
                backend=BACKEND, reason='cannot connect as client.%s with %s: %s'
                                        % (self.user, self.conffile, exc))
        LOG.info('Connected to Ceph (%s) as client.%s', self.conffile, self.user)
        return _Handle(cluster)

    def _acquire(self):
        with self._lock:
            handle = self._handle
            if handle is not None and handle.pid != os.getpid():
                # Forked child: the parent's connection threads are not here.
                handle = self._handle = None
            if handle is None:
                handle = self._handle = self._connect()
            handle.users += 1
            return handle

    def _release(self, handle):
        with self._lock:
            handle.users -= 1
            close = handle.stale and handle.users == 0
        if close:
            self._shutdown(handle)

    def _shutdown(self, handle):
        try:
            handle.cluster.shutdown()
        except Exception:  # already broken: nothing more to release
            LOG.debug('Ignoring error shutting down a failed Ceph connection', exc_info=True)

    def reset(self, handle=None, failed=True):
        """Drop the shared connection (or ``handle`` if still current)."""
        with self._lock:
            current = self._handle
            if current is None or (handle is not None and handle is not current):
                return
            self._handle = None
            current.stale = True
            close = current.users == 0
        if failed:
            LOG.warning('Dropping the failed Ceph connection; the next operation reconnects')
        if close:
            self._shutdown(current)

    def close(self):
        self.reset(failed=False)

    # -- context managers ---------------------------------------------
    @contextlib.contextmanager
    def pool(self, pool, name=None, snapshot=None):
        """Yield an open I/O context on ``pool``; translate errors inside."""
        handle = self._acquire()
        try:
            try:
                ioctx = handle.cluster.open_ioctx(pool)
            except Exception as exc:
                if is_connection_error(exc):
                    self.reset(handle)
                raise exception.BackendUnavailable(
                    backend=BACKEND, reason='cannot open pool %s: %s' % (pool, exc))
            try:
                yield ioctx
            except Exception as exc:
                if not is_library_error(exc):
                    raise
                if is_connection_error(exc):
                    self.reset(handle)
                raise to_domain(exc, name, snapshot) from exc
            finally:
                ioctx.close()
        finally:
            self._release(handle)

    @contextlib.contextmanager
    def open_image(self, pool, name, snapshot=None, read_only=False):
        """Yield ``rbd.Image`` for ``name`` (at ``snapshot``); always closed."""
        with self.pool(pool, name, snapshot) as ioctx:
            image = rbd.Image(ioctx, name, snapshot=snapshot, read_only=read_only)
            try:
                yield image
            finally:
                image.close()


_CLIENTS = {}
_CLIENTS_LOCK = threading.Lock()


def get_client(conffile, user, keyring=None, connect_timeout=10, operation_timeout=30):
    """Return the process-wide client for these settings (made once)."""
    key = (conffile, user, keyring, connect_timeout, operation_timeout)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _CLIENTS[key] = RBDClient(*key)
        return client


def close_all():
    """Shut down every process-wide connection (tests, service stop)."""
    with _CLIENTS_LOCK:
        clients = list(_CLIENTS.values())
        _CLIENTS.clear()
    for client in clients:
        client.close()
