"""Every ``tgtadm`` command the tgt driver runs, and the parser of its output.

One small function per tgtadm invocation, all going through ``_execute`` (so
a test can replace exactly that one function). ``tgt-admin`` is never used:
its ``--execute``/``--update ALL`` treat their config file as the whole truth
and delete running targets that are not in it, which is wrong on a tgtd
shared with anything else.

CHAP passwords have to be on tgtadm's command line (it has no other way to
take them); a logging filter on ``m2.common.utils`` redacts the argument
after ``--password`` from the "Running ..." debug line so that they never
reach a log.
"""

import errno
import logging
import re

from m2.common import exception, utils
from m2.conf import CONF

LOG = logging.getLogger(__name__)

# tgtadm's own messages (tgtadm.c), used to tell expected failures apart.
TARGET_EXISTS = 'this target already exists'
NO_TARGET = "can't find the target"
ACCOUNT_EXISTS = 'this account already exists'
NO_ACCOUNT = "can't find the account"
BINDING_EXISTS = 'this binding already exists'
NO_BINDING = "can't find the binding"
ACL_EXISTS = 'this access control rule already exists'
ACL_MISSING = 'this access control rule does not exist'
LUN_EXISTS = 'this logical unit number already exists'
TARGET_ACTIVE = 'this target is still active'

# tgtadm exits 107 (ENOTCONN) or prints these when no tgtd owns the socket.
# tgtadm exits with the errno of its control-socket failure: ENOTCONN and
# ECONNREFUSED when no tgtd listens, ECONNRESET and EPIPE when tgtd dies
# (crash, restart) while it is answering.
_DAEMON_DOWN_RC = (errno.ENOTCONN, errno.ECONNREFUSED, errno.ECONNRESET, errno.EPIPE)
_DAEMON_DOWN_MSGS = ("can't connect to tgt daemon", 'failed to send request',
                     'tgtd closed the socket', "can't create a socket",
                     "can't get the response")

REDACTED = '***'


class _RedactPasswords(logging.Filter):
    """Replace the value after ``--password`` in logged command lists."""

    def filter(self, record):
        if isinstance(record.args, tuple) and any(
                isinstance(a, (list, tuple)) and '--password' in a for a in record.args):
            record.args = tuple(redact(a) if isinstance(a, (list, tuple)) else a
                                for a in record.args)
        return True


def redact(cmd):
    """Return ``cmd`` (an argument list) with every CHAP password hidden."""
    out = list(cmd)
    for i, arg in enumerate(out[:-1]):
        if arg == '--password':
            out[i + 1] = REDACTED
    return out


_FILTER = _RedactPasswords()
if _FILTER not in logging.getLogger(utils.__name__).filters:
    logging.getLogger(utils.__name__).addFilter(_FILTER)


def error_is(exc, message):
    """True if ``exc`` (CommandFailed from tgtadm) carries tgtadm's ``message``."""
    return message in (getattr(exc, 'stderr', '') or '')


def _base_cmd():
    cmd = [CONF.tgt.tgtadm_path]
    if CONF.tgt.control_port:
        cmd += ['-C', str(CONF.tgt.control_port)]
    return cmd + ['--lld', 'iscsi']


def _execute(*args):
    """Run ``tgtadm [-C N] --lld iscsi <args>``; return its stdout.

    :raises BackendUnavailable: no tgtd answers on the control socket.
    :raises CommandFailed: tgtadm refused; ``error_is`` tells which refusal.
    """
    cmd = _base_cmd() + list(args)
    try:
        out, _err = utils.execute(*cmd, timeout=CONF.tgt.tgtadm_timeout)
    except exception.CommandFailed as exc:
        stderr = exc.stderr or ''
        if exc.exit_code in _DAEMON_DOWN_RC or any(m in stderr for m in _DAEMON_DOWN_MSGS):
            raise exception.BackendUnavailable(
                backend='tgtd (control port %s)' % (CONF.tgt.control_port or 'default'),
                reason=stderr or 'exit code %s' % exc.exit_code)
        # CommandFailed only names cmd[:3]; say which operation it was.
        raise exception.CommandFailed(cmd='tgtadm ' + ' '.join(redact(args[:4])),
                                      exit_code=exc.exit_code, stdout=exc.stdout,
                                      stderr=stderr, backend='tgtd')
    return out


# -- system ---------------------------------------------------------------

def show_system():
    return _execute('--mode', 'system', '--op', 'show')


# -- targets --------------------------------------------------------------

def show_targets():
    """Return the raw ``--op show --mode target`` text (see parse_targets)."""
    return _execute('--mode', 'target', '--op', 'show')


def new_target(tid, iqn):
    _execute('--mode', 'target', '--op', 'new', '--tid', str(tid), '--targetname', iqn)


def delete_target(tid, force=True):
    # --force: without it tgtd refuses while an initiator is logged in.
    args = ['--mode', 'target', '--op', 'delete']
    if force:
        args.append('--force')
    _execute(*(args + ['--tid', str(tid)]))


def bind_initiator_name(tid, initiator):
    _execute('--mode', 'target', '--op', 'bind', '--tid', str(tid),
             '--initiator-name', initiator)


def unbind_initiator_name(tid, initiator):
    _execute('--mode', 'target', '--op', 'unbind', '--tid', str(tid),
             '--initiator-name', initiator)


def unbind_initiator_address(tid, address):
    _execute('--mode', 'target', '--op', 'unbind', '--tid', str(tid),
             '--initiator-address', address)


# -- logical units --------------------------------------------------------

def new_lun(tid, lun, backing_store, bstype, bsopts=None):
    args = ['--mode', 'logicalunit', '--op', 'new', '--tid', str(tid), '--lun', str(lun),
            '--bstype', bstype, '--backing-store', backing_store]
    if bsopts:
        args += ['--bsopts', bsopts]
    _execute(*args)


def set_lun_readonly(tid, lun, readonly):
    # tgtadm refuses --params on "logicalunit --op new": it is an update.
    _execute('--mode', 'logicalunit', '--op', 'update', '--tid', str(tid), '--lun', str(lun),
             '--params', 'readonly=%d' % (1 if readonly else 0))


# -- CHAP accounts (global in tgtd, bound to targets) ---------------------

def show_accounts():
    """Return the names of every CHAP account tgtd has."""
    out = _execute('--mode', 'account', '--op', 'show')
    return [line.strip() for line in out.splitlines()[1:] if line.strip()]


def new_account(user, password):
    # The password last, so that redact() and the log filter find it.
    _execute('--mode', 'account', '--op', 'new', '--user', user, '--password', password)


def delete_account(user):
    _execute('--mode', 'account', '--op', 'delete', '--user', user)


def bind_account(tid, user):
    _execute('--mode', 'account', '--op', 'bind', '--tid', str(tid), '--user', user)


def unbind_account(tid, user):
    _execute('--mode', 'account', '--op', 'unbind', '--tid', str(tid), '--user', user)


# -- parsing --------------------------------------------------------------

_TARGET_RE = re.compile(r'^Target (\d+): (\S+)\s*$')
_SECTION_RE = re.compile(r'^ {4}(\S.*):\s*$')
_KV_RE = re.compile(r'^\s+([^:]+):\s?(.*)$')


def _new_target(tid, iqn):
    return {'tid': tid, 'iqn': iqn, 'state': None, 'sessions': [], 'luns': {},
            'accounts': [], 'acls': []}


def parse_targets(text):
    """Parse ``tgtadm --op show --mode target`` output.

    Returns a list of ``{'tid': int, 'iqn': str, 'state': str,
    'sessions': [{'sid': int, 'initiator': str, 'addresses': [str]}],
    'luns': {lun: {'type', 'bstype', 'path', 'readonly': bool, 'size_mb'}},
    'accounts': [str], 'acls': [str]}`` in tgtd's order. Lines this parser
    does not know are ignored, so a newer tgt adding fields does not break it.
    """
    targets = []
    target = section = lun = session = None
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _TARGET_RE.match(line)
        if m:
            target = _new_target(int(m.group(1)), m.group(2))
            targets.append(target)
            section = lun = session = None
            continue
        if target is None:
            continue
        m = _SECTION_RE.match(line)
        if m:
            section = m.group(1)
            continue
        body = line.strip()
        if section in ('Account information', 'ACL information'):
            # Account lines may read "user (outgoing)": keep the name only.
            key = 'accounts' if section == 'Account information' else 'acls'
            target[key].append(body.split()[0])
            continue
        m = _KV_RE.match(line)
        if not m:
            continue
        key, value = m.group(1).strip(), m.group(2).strip()
        if section == 'System information':
            if key == 'State':
                target['state'] = value
        elif section == 'I_T nexus information':
            if key == 'I_T nexus':
                session = {'sid': int(value), 'initiator': None, 'addresses': []}
                target['sessions'].append(session)
            elif session is not None and key == 'Initiator':
                # "Initiator: <iqn> alias: <alias>"
                session['initiator'] = value.split()[0] if value else None
            elif session is not None and key == 'IP Address':
                session['addresses'].append(value)
        elif section == 'LUN information':
            if key == 'LUN':
                lun = {'type': None, 'bstype': None, 'path': None, 'readonly': False,
                       'size_mb': None}
                target['luns'][int(value)] = lun
            elif lun is not None:
                if key == 'Type':
                    lun['type'] = value
                elif key == 'Backing store type':
                    lun['bstype'] = value
                elif key == 'Backing store path':
                    lun['path'] = None if value == 'None' else value
                elif key == 'Readonly':
                    lun['readonly'] = value == 'Yes'
                elif key == 'Size':
                    # "Size: 8 MB, Block size: 512"
                    size = value.split()[0]
                    lun['size_mb'] = int(size) if size.isdigit() else None
    return targets
