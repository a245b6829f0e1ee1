"""Load the configured driver of each kind through stevedore, once per process."""

import logging
import threading
from importlib import metadata

from stevedore import driver as stevedore_driver

from m2.common import exception
from m2.conf import CONF

LOG = logging.getLogger(__name__)

KINDS = ('storage', 'iscsi', 'isolator', 'boot')
NAMESPACE = 'm2.drivers.%s'

_loaded = {}
_lock = threading.Lock()


def installed_drivers(kind):
    """Return the sorted names registered in ``m2.drivers.<kind>``.

    Read from the entry point metadata without importing anything, so a
    driver whose module fails to import is still listed (and its load error
    reported by ``load``).
    """
    return sorted({ep.name for ep in metadata.entry_points(group=NAMESPACE % kind)})


def load(kind, name):
    """Instantiate driver ``name`` of ``kind``; raise a clear error if absent."""
    namespace = NAMESPACE % kind
    if name not in installed_drivers(kind):
        raise exception.DriverNotFound(kind=kind, name=name, namespace=namespace,
                                       choices=', '.join(installed_drivers(kind)) or 'none')
    try:
        manager = stevedore_driver.DriverManager(namespace, name, invoke_on_load=True,
                                                 on_load_failure_callback=_reraise)
    except exception.M2Exception:
        raise
    except Exception as exc:
        raise exception.DriverLoadError(kind=kind, name=name, reason=exc)
    LOG.info('Loaded %s driver %s', kind, name)
    return manager.driver


def _reraise(manager, entrypoint, exc):
    raise exc


def get(kind):
    """Return the configured driver of ``kind``, loading it on first use."""
    with _lock:
        if kind not in _loaded:
            _loaded[kind] = load(kind, getattr(CONF.drivers, kind))
        return _loaded[kind]


def load_all():
    """Load every configured driver now, so a bad choice fails at start."""
    return {kind: get(kind) for kind in KINDS}


def reset():
    """Forget loaded drivers (tests, config reload)."""
    with _lock:
        _loaded.clear()
