"""Names m2 gives things in storage, iSCSI and CHAP, derived from row ids.

Never from raw user input: a storage or target name is built from the
deployment's ``uid`` and the row's integer id (the node's validated name
only decorates the IQN), so it is always a safe token, and a restarted
conductor can re-derive every name it needs to undo a step.
"""

import re

from m2.conf import CONF

TEMP_SNAPSHOT_PREFIX = 'm2tmp-'


def image_storage_name(image_id):
    return '%simg%d' % (CONF.uid, image_id)


def node_disk_name(node_id):
    return '%snode%d' % (CONF.uid, node_id)


def is_own_storage_name(name):
    """True for names this deployment creates (<uid>img<n>, <uid>node<n>)."""
    return re.fullmatch(r'%s(img|node)\d+' % re.escape(CONF.uid), name) is not None


def temp_snapshot_name(kind, row_id):
    """The temporary snapshot an import/snapshot/copy takes of its source."""
    return '%s%s%d' % (TEMP_SNAPSHOT_PREFIX, kind, row_id)


def _iqn_token(name):
    # IQNs are lower case letters, digits, '.', '-' and ':'.
    return re.sub(r'[^a-z0-9.-]', '-', name.lower())


def target_iqn(node_id, node_name):
    return '%s:%s.node%d.%s' % (CONF.iscsi.iqn_prefix, CONF.uid, node_id, _iqn_token(node_name))


def initiator_iqn(node_id, node_name):
    return '%s:%s.initiator%d.%s' % (CONF.iscsi.iqn_prefix, CONF.uid, node_id,
                                     _iqn_token(node_name))


def is_own_iqn(iqn):
    return iqn.startswith('%s:%s.node' % (CONF.iscsi.iqn_prefix, CONF.uid))


def chap_username(node_id):
    return '%snode%d' % (CONF.uid, node_id)
