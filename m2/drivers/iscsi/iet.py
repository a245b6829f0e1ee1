"""The IET (iSCSI Enterprise Target) driver: ietadm plus ietd.conf stanzas.

Live targets are made with ``ietadm`` and also written to ``ietd.conf`` (ietd
reads it at start, so targets come back after a restart). Access is limited
with IET's ``initiators.allow`` (``<target> <initiator>``) and
``initiators.deny`` (``<target> ALL``: IET admits any initiator that no rule
matches). The disk is ``Lun 1`` like with tgt, so boot scripts are the same.

IET is a kernel module: it exports files (``Type=fileio``) and block devices
(``Type=blockio``) only. An RBD image would first need ``rbd map`` (the
kernel RBD client), which m2 does not do, so ``rbd`` backing stores are
refused with a clear error; use the tgt driver for Ceph.

Config files are edited under an exclusive ``flock`` and replaced atomically
(write a temp file, fsync, rename), keeping every line m2 did not write.
"""

import contextlib
import fcntl
import logging
import os
import re
import tempfile
import threading

from m2.common import exception, utils
from m2.conf import CONF
from m2.drivers import base

LOG = logging.getLogger(__name__)

LUN = 1
_SAFE_PATH_RE = re.compile(r'^/[A-Za-z0-9._/+-]+$')
_PASSWORD_RE = re.compile(r'(Password=)[^,]*')


class _RedactPasswords(logging.Filter):
    """Hide ``Password=...`` in the "Running ..." line utils.execute logs."""

    def filter(self, record):
        if isinstance(record.args, tuple):
            record.args = tuple(
                [_PASSWORD_RE.sub(r'\1***', str(a)) for a in arg]
                if isinstance(arg, (list, tuple)) else arg for arg in record.args)
        return True


_FILTER = _RedactPasswords()
if _FILTER not in logging.getLogger(utils.__name__).filters:
    logging.getLogger(utils.__name__).addFilter(_FILTER)


def _execute(*args):
    """Run ``ietadm <args>``: the one function that runs a command here."""
    try:
        return utils.execute(CONF.iet.ietadm_path, *args, timeout=CONF.iet.ietadm_timeout)[0]
    except exception.CommandFailed as exc:
        raise exception.CommandFailed(
            cmd='ietadm ' + _PASSWORD_RE.sub(r'\1***', ' '.join(args[:4])),
            exit_code=exc.exit_code, stdout=exc.stdout, stderr=exc.stderr, backend='ietd')


# -- parsing /proc/net/iet -------------------------------------------------

def _fields(line):
    return dict(f.split(':', 1) for f in line.split() if ':' in f)


def parse_proc(text, child_key):
    """Parse /proc/net/iet/volume or /session: ``[{'tid', 'name', 'items'}]``.

    Each ``tid:N name:IQN`` line starts a target; the indented ``lun:`` (or
    ``sid:``) lines under it become ``items`` dicts (``cid:`` lines under a
    session are counted in its ``connections`` list).
    """
    targets = []
    for line in text.splitlines():
        fields = _fields(line)
        if 'tid' in fields and not line[:1].isspace():
            targets.append({'tid': int(fields['tid']), 'name': fields.get('name'),
                            'items': []})
        elif targets and child_key in fields:
            fields['connections'] = []
            targets[-1]['items'].append(fields)
        elif targets and 'cid' in fields and targets[-1]['items']:
            targets[-1]['items'][-1]['connections'].append(fields)
    return targets


def _read_proc(name):
    path = os.path.join(CONF.iet.proc_dir, name)
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        raise exception.BackendUnavailable(
            backend='ietd', reason='%s is missing: the IET kernel module is not loaded' % path)


# -- config files ----------------------------------------------------------

@contextlib.contextmanager
def _locked():
    lock = CONF.iet.ietd_conf + '.m2lock'
    with open(lock, 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _read_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def _write_lines(path, lines):
    directory = os.path.dirname(path) or '.'
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.' + os.path.basename(path))
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(''.join(line + '\n' for line in lines))
            f.flush()
            os.fsync(f.fileno())
        # The conf holds CHAP secrets: readable by root only.
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def stanza(iqn, path, iotype, readonly=False, chap=None):
    """The ietd.conf lines of one target."""
    lun = '    Lun %d Path=%s,Type=%s' % (LUN, path, iotype)
    if readonly:
        lun += ',IOMode=ro'
    lines = ['Target ' + iqn, lun]
    if chap:
        lines.append('    IncomingUser %s %s' % chap)
    return lines


def _without_stanza(lines, iqn):
    """``lines`` minus the ``Target iqn`` block (up to the next Target)."""
    out, skipping = [], False
    for line in lines:
        words = line.split()
        if words[:1] == ['Target']:
            skipping = words[1:2] == [iqn]
        if not skipping:
            out.append(line)
    return out


def _without_rule(lines, iqn):
    return [line for line in lines if line.split()[:1] != [iqn]]


def _backing(backing):
    kind = backing.get('type') if isinstance(backing, dict) else None
    if kind == 'rbd':
        raise exception.Invalid(
            reason='the IET driver cannot export RBD images: IET is a kernel target and '
                   'would need the image mapped with "rbd map" (kernel RBD), which m2 '
                   'does not do; use the tgt driver for Ceph storage')
    path = backing.get('path') if kind == 'file' else None
    if not isinstance(path, str) or not _SAFE_PATH_RE.match(path) \
            or os.path.normpath(path) != path:
        raise exception.Invalid(reason='IET needs an absolute, normalised file path of '
                                       'letters, digits and ._/+-, got %r' % (backing,))
    return path, 'blockio' if path.startswith('/dev/') else 'fileio'


class IetDriver(base.ISCSIDriver):
    """Targets on an IET kernel target through ietadm and its config files."""

    name = 'iet'

    def __init__(self):
        self._lock = threading.Lock()

    def portals(self):
        return list(CONF.iscsi.portals)

    def _volumes(self):
        return parse_proc(_read_proc('volume'), 'lun')

    def _find(self, iqn, volumes):
        return next((v for v in volumes if v['name'] == iqn), None)

    def create_target(self, iqn, backing, initiator_iqn, chap=None, readonly=False):
        utils.validate_iqn(iqn)
        utils.validate_iqn(initiator_iqn)
        if chap is not None:
            utils.validate_name(chap[0], 'CHAP user')
            if not isinstance(chap[1], str) or not re.match(r'^[!-~]+$', chap[1]) \
                    or ',' in chap[1]:
                raise exception.Invalid(reason='the CHAP secret must be printable, '
                                               'without spaces or commas')
        path, iotype = _backing(backing)
        with self._lock, _locked():
            volumes = self._volumes()
            existing = self._find(iqn, volumes)
            if existing is not None:
                luns = {int(i['lun']): i for i in existing['items']}
                if LUN in luns and luns[LUN].get('path') != path:
                    raise exception.TargetExists(iqn=iqn)
            # Rules first: with the deny line in place and no allow line the
            # new target would admit nobody; with both, only the node.
            self._set_rules(iqn, initiator_iqn)
            if existing is None:
                tid = 1 + max([v['tid'] for v in volumes] or [0])
                _execute('--op', 'new', '--tid=%d' % tid, '--params', 'Name=' + iqn)
                luns = {}
                LOG.info('Created IET target %s (tid %d)', iqn, tid)
            else:
                tid = existing['tid']
            if LUN not in luns:
                params = 'Path=%s,Type=%s' % (path, iotype)
                if readonly:
                    params += ',IOMode=ro'
                _execute('--op', 'new', '--tid=%d' % tid, '--lun=%d' % LUN, '--params', params)
            if chap:
                if existing is not None:
                    # IET cannot change a password: drop the user, add it anew.
                    try:
                        _execute('--op', 'delete', '--tid=%d' % tid, '--user',
                                 '--params=IncomingUser=%s' % chap[0])
                    except exception.CommandFailed:
                        LOG.debug('No CHAP user %s on %s yet', chap[0], iqn)
                _execute('--op', 'new', '--tid=%d' % tid, '--user',
                         '--params=IncomingUser=%s,Password=%s' % chap)
            conf = _without_stanza(_read_lines(CONF.iet.ietd_conf), iqn)
            _write_lines(CONF.iet.ietd_conf, conf + stanza(iqn, path, iotype, readonly, chap))
        return {'iqn': iqn, 'portals': self.portals(), 'lun': LUN}

    def _set_rules(self, iqn, initiator_iqn):
        allow = _without_rule(_read_lines(CONF.iet.initiators_allow), iqn)
        _write_lines(CONF.iet.initiators_allow, allow + ['%s %s' % (iqn, initiator_iqn)])
        deny = _without_rule(_read_lines(CONF.iet.initiators_deny), iqn)
        _write_lines(CONF.iet.initiators_deny, deny + ['%s ALL' % iqn])

    def delete_target(self, iqn):
        """Close the target's connections (IET will not delete a target
        with sessions), delete it, then drop its stanza and rules. Its CHAP
        user belongs to the target in IET and goes with it."""
        utils.validate_iqn(iqn)
        with self._lock, _locked():
            existing = self._find(iqn, self._volumes())
            if existing is not None:
                tid = existing['tid']
                sessions = self._find(iqn, parse_proc(_read_proc('session'), 'sid'))
                for session in (sessions or {}).get('items', []):
                    for conn in session['connections']:
                        _execute('--op', 'delete', '--tid=%d' % tid,
                                 '--sid=%s' % session['sid'], '--cid=%s' % conn['cid'])
                _execute('--op', 'delete', '--tid=%d' % tid)
                LOG.info('Deleted IET target %s (tid %d)', iqn, tid)
            _write_lines(CONF.iet.ietd_conf,
                         _without_stanza(_read_lines(CONF.iet.ietd_conf), iqn))
            for path in (CONF.iet.initiators_allow, CONF.iet.initiators_deny):
                _write_lines(path, _without_rule(_read_lines(path), iqn))

    def list_targets(self):
        prefix = CONF.iscsi.iqn_prefix + ':'
        sessions = {s['name']: s for s in parse_proc(_read_proc('session'), 'sid')}
        allowed = {}
        for line in _read_lines(CONF.iet.initiators_allow):
            words = line.split()
            if len(words) == 2:
                allowed[words[0]] = words[1].split(',')
        result = []
        for volume in self._volumes():
            if not (volume['name'] or '').startswith(prefix):
                continue
            lun = next((i for i in volume['items'] if i.get('lun') == str(LUN)), {})
            session = sessions.get(volume['name'], {'items': []})
            result.append({
                'iqn': volume['name'], 'tid': volume['tid'], 'backing': lun.get('path'),
                'backing_type': 'file', 'readonly': lun.get('iomode') == 'ro',
                'initiators': allowed.get(volume['name'], []),
                'connections': sum(len(s['connections']) for s in session['items']),
                'connected': [s.get('initiator') for s in session['items']],
            })
        return result
