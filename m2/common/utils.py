"""Validation of user-supplied names and the one way m2 runs commands."""

import logging
import os
import re
import subprocess

from m2.common import exception

LOG = logging.getLogger(__name__)

# A resource name: starts with a letter or digit, then letters, digits and
# ._- ; never '..', never a path separator or control character.
_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*$')
NAME_MAX = 63
_MAC_RE = re.compile(r'^([0-9a-f]{2})([:-][0-9a-f]{2}){5}$')
_IQN_RE = re.compile(r'^iqn\.\d{4}-\d{2}\.[a-z0-9.-]+(:[A-Za-z0-9.:_-]+)?$')
_NIC_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._:/-]{0,62}$')


def validate_name(value, field='name', max_length=NAME_MAX):
    """Return ``value`` if it is a safe resource name, else raise InvalidName.

    Safe names can be used in file names, storage names and templates.
    """
    if not isinstance(value, str) or not value:
        raise exception.InvalidName(field=field, value=value, reason='must be a non-empty string')
    if len(value) > max_length:
        raise exception.InvalidName(field=field, value=value,
                                    reason='longer than %d characters' % max_length)
    if '..' in value:
        raise exception.InvalidName(field=field, value=value, reason="must not contain '..'")
    if not _NAME_RE.fullmatch(value):
        raise exception.InvalidName(
            field=field, value=value,
            reason='use letters, digits, ".", "_" and "-", starting with a letter or digit')
    return value


def normalize_mac(value):
    """Return ``value`` as a lower-case colon-separated MAC or raise InvalidMAC."""
    if not isinstance(value, str) or not _MAC_RE.fullmatch(value.lower()):
        raise exception.InvalidMAC(mac=value)
    return value.lower().replace('-', ':')


def validate_nic_label(value):
    """NIC labels come from the isolator ("eno1", "nic-1", "eth0/1")."""
    if not isinstance(value, str) or not _NIC_RE.fullmatch(value) or '..' in value:
        raise exception.InvalidName(field='nic', value=value,
                                    reason='use letters, digits and ._:/-')
    return value


def validate_iqn(value):
    if not isinstance(value, str) or len(value) > 223 or not _IQN_RE.fullmatch(value):
        raise exception.InvalidName(field='iqn', value=value,
                                    reason='not an iqn.YYYY-MM.domain:name')
    return value


def safe_join(base, *parts):
    """Join ``parts`` under ``base`` and refuse any result outside it."""
    base = os.path.realpath(base)
    path = os.path.realpath(os.path.join(base, *parts))
    if os.path.commonpath([base, path]) != base or path == base:
        raise exception.Invalid(reason='path %r escapes %s' % (os.path.join(*parts), base))
    return path


def execute(*cmd, check=True, input=None, timeout=60, env=None):
    """Run ``cmd`` (an argument list, never a shell); return (stdout, stderr).

    :raises CommandFailed: on a non-zero exit when ``check`` is set.
    :raises BackendUnavailable: when the command is missing or times out.
    """
    cmd = [str(c) for c in cmd]
    LOG.debug('Running %s', cmd)
    try:
        proc = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout,
                              env=env, text=isinstance(input, str) or input is None)
    except FileNotFoundError:
        raise exception.BackendUnavailable(backend=cmd[0], reason='command not found')
    except subprocess.TimeoutExpired:
        raise exception.BackendUnavailable(backend=cmd[0],
                                           reason='no answer within %ss' % timeout)
    if check and proc.returncode != 0:
        raise exception.CommandFailed(cmd=' '.join(cmd[:3]), exit_code=proc.returncode,
                                      stdout=proc.stdout, stderr=(proc.stderr or '').strip())
    return proc.stdout, proc.stderr
