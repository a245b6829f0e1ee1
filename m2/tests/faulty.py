"""Fault-injecting drivers for tests: a real driver with failures on cue.

Each ``Faulty*Driver`` wraps a real driver of its kind (file storage, fake
iSCSI, fake isolator, ipxe boot by default) and, before every call, reads
``$state_path/faults.json``::

    {"inner": {"storage": "file"},
     "faults": [{"call": "storage.clone", "skip": 0, "times": 1,
                 "action": "fail"},
                {"call": "iscsi.create_target", "action": "sleep",
                 "seconds": 60}]}

A fault matching the call first lets ``skip`` calls through, then acts
``times`` times (default 1): ``fail`` raises ``InjectedFault``, ``sleep``
waits. Counters are written back, so a fault fires exactly as often as
asked even across a restart of the server.
"""

import json
import os
import threading
import time

from m2.common import exception
from m2.conf import CONF
from m2.drivers import factory

_LOCK = threading.Lock()
DEFAULT_INNER = {'storage': 'file', 'iscsi': 'fake', 'isolator': 'fake', 'boot': 'ipxe'}


def faults_path():
    return os.path.join(CONF.state_path, 'faults.json')


def write_faults(state_path, faults, inner=None):
    """Write a faults file (used by tests, possibly for another process)."""
    path = os.path.join(state_path, 'faults.json')
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump({'faults': faults, 'inner': inner or {}}, f)
    os.replace(tmp, path)


def _read():
    try:
        with open(faults_path()) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _check(call):
    """Apply the first fault matching ``call``; persist its counters."""
    with _LOCK:
        spec = _read()
        action = None
        for fault in spec.get('faults', []):
            if fault.get('call') != call:
                continue
            if fault.get('skip', 0) > 0:
                fault['skip'] -= 1
            elif fault.get('times', 1) > 0:
                fault['times'] = fault.get('times', 1) - 1
                action = dict(fault)
            else:
                continue
            break
        else:
            return
        write_faults(CONF.state_path, spec.get('faults', []), spec.get('inner'))
    if action is None:
        return
    if action.get('action', 'fail') == 'sleep':
        time.sleep(action.get('seconds', 60))
    else:
        raise exception.InjectedFault(step=call)


class _Faulty:
    kind = None

    def __init__(self):
        inner = _read().get('inner', {}).get(self.kind) or DEFAULT_INNER[self.kind]
        self._inner = factory.load(self.kind, inner)
        self.name = 'faulty-%s' % inner

    def __getattr__(self, attr):
        value = getattr(self._inner, attr)
        if not callable(value) or attr.startswith('_'):
            return value

        def wrapper(*args, **kwargs):
            _check('%s.%s' % (self.kind, attr))
            return value(*args, **kwargs)

        return wrapper


class FaultyStorageDriver(_Faulty):
    kind = 'storage'


class FaultyISCSIDriver(_Faulty):
    kind = 'iscsi'


class FaultyIsolatorDriver(_Faulty):
    kind = 'isolator'


class FaultyBootDriver(_Faulty):
    kind = 'boot'
