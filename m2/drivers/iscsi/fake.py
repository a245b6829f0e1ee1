"""The ``fake`` iSCSI driver: targets recorded in a JSON file, nothing exported.

It keeps the contract of a real target driver (idempotent create, conflicts on
another backing store, idempotent delete, portals from ``[iscsi] portals``) so
that the embedded default and the unit tests exercise the conductor's real
code paths. The state lives in ``[fake] iscsi_state_file`` and survives a
restart; a person can read it::

    {"targets": {"<iqn>": {"backing": "/path or pool/image",
                           "backing_store": {...}, "initiators": [...],
                           "chap_user": null, "readonly": false, "lun": 1}}}

CHAP secrets are not written down: only the user name is recorded.
"""

import logging
import re

from m2.common import exception, utils
from m2.conf import CONF
from m2.drivers import base, jsonstate

LOG = logging.getLogger(__name__)

LUN = 1
# CHAP user names go into target configuration: keep them to safe characters.
_CHAP_USER_RE = re.compile(r'^[A-Za-z0-9._:@-]{1,255}$')


def describe_backing(backing):
    """Return the string a target shows for ``backing`` (path or pool/image)."""
    if not isinstance(backing, dict):
        raise exception.Invalid(reason='backing store must be a dict')
    kind = backing.get('type')
    if kind == 'file' and isinstance(backing.get('path'), str) and backing['path'].startswith('/'):
        return backing['path']
    if kind == 'rbd' and backing.get('pool') and backing.get('image'):
        return '%s/%s' % (backing['pool'], backing['image'])
    raise exception.Invalid(reason='unsupported backing store %r' % (backing,))


class FakeISCSIDriver(base.ISCSIDriver):
    """Targets as JSON records; see the module docstring."""

    name = 'fake'

    def __init__(self):
        self._state = jsonstate.StateFile(CONF.fake.iscsi_state_file,
                                          default=lambda: {'targets': {}})

    def create_target(self, iqn, backing, initiator_iqn, chap=None, readonly=False):
        utils.validate_iqn(iqn)
        utils.validate_iqn(initiator_iqn)
        described = describe_backing(backing)
        chap_user = None
        if chap is not None:
            chap_user, secret = chap
            if not isinstance(chap_user, str) or not _CHAP_USER_RE.match(chap_user):
                raise exception.InvalidName(field='CHAP user', value=chap_user,
                                            reason='use letters, digits and ._:@-')
            if not isinstance(secret, str) or not secret:
                raise exception.Invalid(reason='CHAP secret must be a non-empty string')
        record = {'backing': described, 'backing_store': dict(backing),
                  'initiators': [initiator_iqn], 'chap_user': chap_user,
                  'readonly': bool(readonly), 'lun': LUN}
        with self._state.update() as state:
            existing = state['targets'].get(iqn)
            if existing is not None and existing['backing'] != described:
                raise exception.TargetExists(iqn=iqn)
            # Re-running create converges the ACL and CHAP to what is asked.
            state['targets'][iqn] = record
        LOG.info('Fake target %s exports %s to %s', iqn, described, initiator_iqn)
        return {'iqn': iqn, 'portals': self.portals(), 'lun': LUN}

    def delete_target(self, iqn):
        utils.validate_iqn(iqn)
        with self._state.update() as state:
            if state['targets'].pop(iqn, None) is not None:
                LOG.info('Fake target %s deleted', iqn)

    def list_targets(self):
        targets = self._state.read()['targets']
        return [{'iqn': iqn, 'backing': t['backing'], 'initiators': list(t['initiators']),
                 'connections': 0, 'lun': t.get('lun', LUN),
                 'readonly': t.get('readonly', False)}
                for iqn, t in sorted(targets.items())]

    def portals(self):
        return list(CONF.iscsi.portals)
