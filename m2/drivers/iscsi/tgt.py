"""The tgt iSCSI driver: one target per node on a tgtd, managed with tgtadm.

A target ``<iqn_prefix>:<name>`` exports the node's disk as LUN 1 (tgt keeps
LUN 0 for its controller), from a file (``--bstype rdwr``) or an RBD image
(``--bstype rbd``, Ceph conf and user in ``--bsopts``: tgtd talks to Ceph in
user space, no kernel ``rbd map``). Only the node may log in: its initiator
name is the target's one ACL (never ``initiator-address ALL``), and when the
conductor gives CHAP credentials the target also requires them.

Several conductors may share one tgtd, so target ids are picked as "the
lowest free one" and the pick is retried when another process won the race;
only targets under ``[iscsi] iqn_prefix`` are ever listed or touched.
"""

import logging
import os
import re
import threading

from m2.common import exception, utils
from m2.conf import CONF
from m2.drivers import base
from m2.drivers.iscsi import tgtadm

LOG = logging.getLogger(__name__)

LUN = 1
# Characters allowed in a path or bsopts value: tgtadm hands them to tgtd in
# a "key=value,key=value" string, so ',' (and ';' inside bsopts) would let a
# value inject options.
_SAFE_PATH_RE = re.compile(r'^/[A-Za-z0-9._/+-]+$')
_SAFE_OPT_RE = re.compile(r'^[A-Za-z0-9_]+=[A-Za-z0-9._/+:@-]+$')
_ADDRESS_RE = re.compile(r'^[0-9A-Fa-f.:/]+$|^ALL$')


def _safe_path(path, what):
    if (not isinstance(path, str) or not _SAFE_PATH_RE.fullmatch(path)
            or os.path.normpath(path) != path):
        raise exception.Invalid(reason='%s %r must be an absolute, normalised path of '
                                       'letters, digits and ._/+-' % (what, path))
    return path


def backing_args(backing):
    """Return ``(bstype, backing_store, bsopts, force_readonly)`` for tgtadm.

    ``backing`` is what ``StorageDriver.backing_store`` returns.
    """
    kind = backing.get('type') if isinstance(backing, dict) else None
    if kind == 'file':
        return 'rdwr', _safe_path(backing.get('path'), 'backing file'), None, False
    if kind == 'rbd':
        pool = utils.validate_name(backing.get('pool'), 'rbd pool')
        image = utils.validate_name(backing.get('image'), 'rbd image')
        user = utils.validate_name(backing.get('user') or 'admin', 'ceph user')
        conf = _safe_path(backing.get('conf'), 'ceph conf')
        store = '%s/%s' % (pool, image)
        snapshot = backing.get('snapshot')
        if snapshot:
            # librbd opens snapshots read-only; say so to initiators too.
            store += '@' + utils.validate_name(snapshot, 'rbd snapshot')
        opts = ['conf=' + conf, 'id=' + user]
        for extra in CONF.tgt.rbd_bsopts:
            if not _SAFE_OPT_RE.fullmatch(extra):
                raise exception.Invalid(reason='[tgt] rbd_bsopts entry %r is not key=value '
                                               'without ";" or ","' % extra)
            opts.append(extra)
        return 'rbd', store, ';'.join(opts), bool(snapshot)
    raise exception.Invalid(reason='tgt cannot export a backing store of type %r' % kind)


def _backing_name(lun):
    return lun.get('path') if lun else None


class TgtDriver(base.ISCSIDriver):
    """iSCSI targets on a (possibly shared) tgtd, through tgtadm only."""

    name = 'tgt'

    def __init__(self):
        # Serialises this process's tid picks; other processes are handled
        # by retrying on "this target already exists".
        self._lock = threading.Lock()

    # -- helpers ----------------------------------------------------------

    def _managed(self, iqn):
        return iqn.startswith(CONF.iscsi.iqn_prefix + ':')

    def _targets(self):
        return tgtadm.parse_targets(tgtadm.show_targets())

    def _find(self, iqn, targets=None):
        for target in targets if targets is not None else self._targets():
            if target['iqn'] == iqn:
                return target
        return None

    def _info(self, iqn):
        return {'iqn': iqn, 'portals': self.portals(), 'lun': LUN}

    @staticmethod
    def _free_tid(targets):
        used = {t['tid'] for t in targets}
        for tid in range(1, CONF.tgt.max_tid + 1):
            if tid not in used:
                return tid
        raise exception.BackendError(backend='tgtd',
                                     reason='no free target id up to %d' % CONF.tgt.max_tid)

    # -- verbs ------------------------------------------------------------

    def portals(self):
        return list(CONF.iscsi.portals)

    def create_target(self, iqn, backing, initiator_iqn, chap=None, readonly=False):
        utils.validate_iqn(iqn)
        utils.validate_iqn(initiator_iqn)
        if chap is not None:
            user, secret = chap
            utils.validate_name(user, 'CHAP user')
            if not isinstance(secret, str) or not secret or not secret.isprintable() \
                    or secret.strip() != secret:
                raise exception.Invalid(reason='the CHAP secret must be printable text')
        bstype, store, bsopts, force_ro = backing_args(backing)
        readonly = bool(readonly or force_ro)

        with self._lock:
            for _attempt in range(CONF.tgt.create_retries):
                targets = self._targets()
                target = self._find(iqn, targets)
                if target is None:
                    tid = self._free_tid(targets)
                    try:
                        tgtadm.new_target(tid, iqn)
                    except exception.CommandFailed as exc:
                        if tgtadm.error_is(exc, tgtadm.TARGET_EXISTS):
                            # Another process took this tid (or this iqn).
                            LOG.debug('tid %d or %s taken meanwhile; retrying', tid, iqn)
                            continue
                        raise
                    target = {'tid': tid, 'iqn': iqn, 'luns': {}, 'accounts': [], 'acls': []}
                    LOG.info('Created target %s (tid %d)', iqn, tid)
                self._ensure(target, bstype, store, bsopts, initiator_iqn, chap, readonly)
                return self._info(iqn)
        raise exception.BackendError(backend='tgtd',
                                     reason='could not allocate a target id for %s after '
                                            '%d attempts' % (iqn, CONF.tgt.create_retries))

    def _ensure(self, target, bstype, store, bsopts, initiator_iqn, chap, readonly):
        """Bring an existing target to the wanted state, in the safe order:
        LUN, read-only flag, CHAP, and the initiator ACL last (with no ACL
        tgtd lets nobody in, so a half-made target is never reachable)."""
        tid, iqn = target['tid'], target['iqn']
        lun = target['luns'].get(LUN)
        if lun is not None and (lun.get('bstype'), _backing_name(lun)) != (bstype, store):
            raise exception.TargetExists(iqn=iqn)
        if lun is None:
            try:
                tgtadm.new_lun(tid, LUN, store, bstype, bsopts)
            except exception.CommandFailed as exc:
                if not tgtadm.error_is(exc, tgtadm.LUN_EXISTS):
                    # A fresh target without its disk is useless: remove it
                    # only if it has no LUN (never someone else's target).
                    self._delete_tid(tid, iqn)
                    raise
            lun = {'readonly': False}
        if bool(lun.get('readonly')) != readonly:
            tgtadm.set_lun_readonly(tid, LUN, readonly)

        wanted_user = chap[0] if chap else None
        for user in target['accounts']:
            if user != wanted_user:
                self._drop_account(tid, user)
        if chap:
            self._set_account(tid, chap[0], chap[1])

        for acl in target['acls']:
            if acl != initiator_iqn:
                self._unbind_acl(tid, acl)
        if initiator_iqn not in target['acls']:
            try:
                tgtadm.bind_initiator_name(tid, initiator_iqn)
            except exception.CommandFailed as exc:
                if not tgtadm.error_is(exc, tgtadm.ACL_EXISTS):
                    raise

    def _set_account(self, tid, user, secret):
        # tgtd cannot show or change a password, so the account is always
        # made anew: a re-run after the secret changed must not keep the old.
        try:
            tgtadm.new_account(user, secret)
        except exception.CommandFailed as exc:
            if not tgtadm.error_is(exc, tgtadm.ACCOUNT_EXISTS):
                raise
            tgtadm.delete_account(user)
            tgtadm.new_account(user, secret)
        try:
            tgtadm.bind_account(tid, user)
        except exception.CommandFailed as exc:
            if not tgtadm.error_is(exc, tgtadm.BINDING_EXISTS):
                raise

    @staticmethod
    def _drop_account(tid, user):
        for step in (lambda: tgtadm.unbind_account(tid, user),
                     lambda: tgtadm.delete_account(user)):
            try:
                step()
            except exception.CommandFailed as exc:
                if not (tgtadm.error_is(exc, tgtadm.NO_ACCOUNT)
                        or tgtadm.error_is(exc, tgtadm.NO_BINDING)):
                    raise

    @staticmethod
    def _unbind_acl(tid, acl):
        LOG.warning('Target tid %d had an unexpected ACL %s; removing it', tid, acl)
        if _ADDRESS_RE.match(acl):
            tgtadm.unbind_initiator_address(tid, acl)
        else:
            tgtadm.unbind_initiator_name(tid, acl)

    def _delete_tid(self, tid, iqn):
        try:
            tgtadm.delete_target(tid, force=True)
        except exception.CommandFailed as exc:
            if not tgtadm.error_is(exc, tgtadm.NO_TARGET):
                raise
        LOG.info('Deleted target %s (tid %d)', iqn, tid)

    def delete_target(self, iqn):
        """Remove ``iqn`` with --force (logged-in initiators are cut off),
        then the CHAP accounts bound to it: tgtd's accounts are global and
        would outlive it. A crash between the two leaves an account bound to
        nothing, which grants nothing and is reset by the next create."""
        utils.validate_iqn(iqn)
        with self._lock:
            target = self._find(iqn)
            if target is None:
                LOG.debug('Target %s already gone', iqn)
                return
            self._delete_tid(target['tid'], iqn)
            for user in target['accounts']:
                try:
                    tgtadm.delete_account(user)
                except exception.CommandFailed as exc:
                    if not tgtadm.error_is(exc, tgtadm.NO_ACCOUNT):
                        raise

    def list_targets(self):
        """Targets under ``[iscsi] iqn_prefix``: ``initiators`` are the names
        allowed in (the ACL), ``connected`` the initiators logged in now."""
        result = []
        for target in self._targets():
            if not self._managed(target['iqn']):
                continue
            lun = target['luns'].get(LUN) or {}
            result.append({
                'iqn': target['iqn'],
                'tid': target['tid'],
                'backing': _backing_name(lun),
                'backing_type': {'rdwr': 'file'}.get(lun.get('bstype'), lun.get('bstype')),
                'readonly': bool(lun.get('readonly')),
                'initiators': list(target['acls']),
                'chap_users': list(target['accounts']),
                'connections': len(target['sessions']),
                'connected': [s['initiator'] for s in target['sessions']],
            })
        return result
