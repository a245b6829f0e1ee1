"""Parsing of real ``tgtadm`` output, and the tgtadm wrapper's own rules.

``SHOW_TARGETS`` was captured from tgt 1.0.85 (Debian 12) with a logged-in
qemu-io initiator: a CHAP-bound target with an rdwr LUN 1 and a session, a
read-only target with an ``ALL`` plus a name ACL, and a foreign target with
no LUN 1. Only the backing file path was changed.
"""

import fixtures

from m2.common import exception, utils
from m2.drivers.iscsi import tgt, tgtadm
from m2.tests import base

# tgtadm ends "Backing store flags: " with a space; the literal below has
# none (no trailing whitespace in source) and SHOW_TARGETS puts it back.
_CAPTURE = """\
Target 1: iqn.2026-11.org.m2:abc123-node1
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
        I_T nexus: 3
            Initiator: iqn.2026-11.org.m2:initiator:node1 alias: none
            Connection: 0
                IP Address: 127.0.0.1
    LUN information:
        LUN: 0
            Type: controller
            SCSI ID: IET     00010000
            SCSI SN: beaf10
            Size: 0 MB, Block size: 1
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: No
            SWP: No
            Thin-provisioning: No
            Backing store type: null
            Backing store path: None
            Backing store flags:
        LUN: 1
            Type: disk
            SCSI ID: IET     00010001
            SCSI SN: beaf11
            Size: 8 MB, Block size: 512
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: No
            SWP: No
            Thin-provisioning: No
            Backing store type: rdwr
            Backing store path: /var/lib/m2/images/abc123node1
            Backing store flags:
    Account information:
        node1
    ACL information:
        iqn.2026-11.org.m2:initiator:node1
Target 2: iqn.2026-11.org.m2:t2
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
    LUN information:
        LUN: 0
            Type: controller
            SCSI ID: IET     00020000
            SCSI SN: beaf20
            Size: 0 MB, Block size: 1
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: No
            SWP: No
            Thin-provisioning: No
            Backing store type: null
            Backing store path: None
            Backing store flags:
        LUN: 1
            Type: disk
            SCSI ID: IET     00020001
            SCSI SN: beaf21
            Size: 8 MB, Block size: 512
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: Yes
            SWP: No
            Thin-provisioning: No
            Backing store type: rdwr
            Backing store path: /var/lib/m2/images/abc123node1
            Backing store flags:
    Account information:
    ACL information:
        ALL
        iqn.x:y
Target 5: iqn.2010-10.org.other:foreign
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
    LUN information:
        LUN: 0
            Type: controller
            SCSI ID: IET     00050000
            SCSI SN: beaf50
            Size: 0 MB, Block size: 1
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: No
            SWP: No
            Thin-provisioning: No
            Backing store type: null
            Backing store path: None
            Backing store flags:
    Account information:
    ACL information:
"""
SHOW_TARGETS = _CAPTURE.replace('flags:\n', 'flags: \n')

# Kept before any test patches it: the redaction test runs the real one.
_real_execute = utils.execute

SHOW_ACCOUNTS = """\
Account list:
    node1
    node2
"""


class ParseTargetsTest(base.TestCase):

    def test_targets_in_order(self):
        targets = tgtadm.parse_targets(SHOW_TARGETS)
        self.assertEqual([(1, 'iqn.2026-11.org.m2:abc123-node1'),
                          (2, 'iqn.2026-11.org.m2:t2'),
                          (5, 'iqn.2010-10.org.other:foreign')],
                         [(t['tid'], t['iqn']) for t in targets])
        self.assertEqual(['ready'] * 3, [t['state'] for t in targets])

    def test_luns(self):
        first, second, foreign = tgtadm.parse_targets(SHOW_TARGETS)
        self.assertEqual({0: {'type': 'controller', 'bstype': 'null', 'path': None,
                              'readonly': False, 'size_mb': 0},
                          1: {'type': 'disk', 'bstype': 'rdwr',
                              'path': '/var/lib/m2/images/abc123node1',
                              'readonly': False, 'size_mb': 8}},
                         first['luns'])
        self.assertTrue(second['luns'][1]['readonly'])
        self.assertEqual([0], list(foreign['luns']))

    def test_sessions_accounts_acls(self):
        first, second, foreign = tgtadm.parse_targets(SHOW_TARGETS)
        self.assertEqual([{'sid': 3, 'initiator': 'iqn.2026-11.org.m2:initiator:node1',
                           'addresses': ['127.0.0.1']}], first['sessions'])
        self.assertEqual(['node1'], first['accounts'])
        self.assertEqual(['iqn.2026-11.org.m2:initiator:node1'], first['acls'])
        self.assertEqual([], second['sessions'])
        self.assertEqual([], second['accounts'])
        self.assertEqual(['ALL', 'iqn.x:y'], second['acls'])
        self.assertEqual(([], [], []),
                         (foreign['sessions'], foreign['accounts'], foreign['acls']))

    def test_empty_and_unknown_lines(self):
        self.assertEqual([], tgtadm.parse_targets(''))
        text = SHOW_TARGETS.replace('    LUN information:',
                                    '    Future information:\n        Foo: bar\n'
                                    '    LUN information:')
        self.assertEqual(tgtadm.parse_targets(SHOW_TARGETS), tgtadm.parse_targets(text))

    def test_outgoing_account_keeps_the_name(self):
        text = SHOW_TARGETS.replace('        node1\n', '        node1\n        out1 (outgoing)\n')
        self.assertEqual(['node1', 'out1'], tgtadm.parse_targets(text)[0]['accounts'])


class TgtadmCommandTest(base.TestCase):
    """The wrapper's command lines, error mapping and secret redaction."""

    def setUp(self):
        super().setUp()
        self.calls = []
        self.result = ('', '')
        self.useFixture(fixtures.MonkeyPatch('m2.common.utils.execute', self._execute))

    def _execute(self, *cmd, **kwargs):
        self.calls.append(list(cmd))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result

    def test_default_and_private_control_socket(self):
        tgtadm.delete_target(4)
        self.config(control_port=7, group='tgt')
        tgtadm.bind_initiator_name(4, 'iqn.2026-11.org.m2:initiator:n1')
        self.assertEqual(
            [['tgtadm', '--lld', 'iscsi', '--mode', 'target', '--op', 'delete', '--force',
              '--tid', '4'],
             ['tgtadm', '-C', '7', '--lld', 'iscsi', '--mode', 'target', '--op', 'bind',
              '--tid', '4', '--initiator-name', 'iqn.2026-11.org.m2:initiator:n1']],
            self.calls)

    def test_lun_and_readonly(self):
        tgtadm.new_lun(3, 1, 'rbd/img', 'rbd', 'conf=/c/ceph.conf;id=m2')
        tgtadm.set_lun_readonly(3, 1, True)
        self.assertEqual(
            [['tgtadm', '--lld', 'iscsi', '--mode', 'logicalunit', '--op', 'new', '--tid', '3',
              '--lun', '1', '--bstype', 'rbd', '--backing-store', 'rbd/img',
              '--bsopts', 'conf=/c/ceph.conf;id=m2'],
             ['tgtadm', '--lld', 'iscsi', '--mode', 'logicalunit', '--op', 'update',
              '--tid', '3', '--lun', '1', '--params', 'readonly=1']],
            self.calls)

    def test_show_accounts(self):
        self.result = (SHOW_ACCOUNTS, '')
        self.assertEqual(['node1', 'node2'], tgtadm.show_accounts())

    def test_daemon_down_is_backend_unavailable(self):
        self.result = exception.CommandFailed(
            cmd='tgtadm', exit_code=107,
            stderr='tgtadm: failed to send request hdr to tgt daemon, '
                   'Transport endpoint is not connected')
        self.assertRaises(exception.BackendUnavailable, tgtadm.show_targets)

    def test_daemon_dying_mid_request_is_backend_unavailable(self):
        # Seen when tgtd is killed while tgtadm waits for its answer.
        for rc, stderr in ((104, "tgtadm: can't get the response, Connection reset by peer"),
                           (32, 'tgtadm: failed to send request hdr to tgt daemon, '
                                'Broken pipe')):
            self.result = exception.CommandFailed(cmd='tgtadm', exit_code=rc, stderr=stderr)
            self.assertRaises(exception.BackendUnavailable, tgtadm.show_targets)

    def test_refusal_keeps_tgtadm_message(self):
        self.result = exception.CommandFailed(cmd='tgtadm', exit_code=22,
                                              stderr='tgtadm: this target already exists')
        exc = self.assertRaises(exception.CommandFailed, tgtadm.new_target, 1, 'iqn.x:y')
        self.assertTrue(tgtadm.error_is(exc, tgtadm.TARGET_EXISTS))
        self.assertFalse(tgtadm.error_is(exc, tgtadm.NO_TARGET))

    def test_password_never_in_errors(self):
        self.result = exception.CommandFailed(cmd='tgtadm', exit_code=22,
                                              stderr='tgtadm: this account already exists')
        exc = self.assertRaises(exception.CommandFailed, tgtadm.new_account, 'u', 'S3cretS3cret')
        self.assertNotIn('S3cretS3cret', str(exc))
        self.assertEqual(['--password', 'S3cretS3cret'], self.calls[0][-2:])

    def test_password_redacted_from_execute_log(self):
        self.useFixture(fixtures.MonkeyPatch('subprocess.run', _fake_run))
        self.useFixture(fixtures.MonkeyPatch('m2.common.utils.execute', _real_execute))
        logger = self.useFixture(fixtures.FakeLogger(level='DEBUG'))
        tgtadm.new_account('node1', 'S3cretS3cret')
        self.assertIn("'--password', '***'", logger.output)
        self.assertNotIn('S3cretS3cret', logger.output)


class _Proc:
    returncode = 0
    stdout = ''
    stderr = ''


def _fake_run(cmd, **kwargs):
    return _Proc()


class BackingArgsTest(base.TestCase):

    def test_file(self):
        self.assertEqual(('rdwr', '/var/lib/m2/x.img', None, False),
                         tgt.backing_args({'type': 'file', 'path': '/var/lib/m2/x.img'}))

    def test_rbd(self):
        self.config(rbd_bsopts=['cluster=ceph'], group='tgt')
        self.assertEqual(
            ('rbd', 'pool1/img1', 'conf=/etc/m2/ceph.conf;id=m2;cluster=ceph', False),
            tgt.backing_args({'type': 'rbd', 'pool': 'pool1', 'image': 'img1',
                              'conf': '/etc/m2/ceph.conf', 'user': 'm2'}))
        self.assertEqual(
            ('rbd', 'pool1/img1@s1', 'conf=/etc/m2/ceph.conf;id=m2;cluster=ceph', True),
            tgt.backing_args({'type': 'rbd', 'pool': 'pool1', 'image': 'img1',
                              'snapshot': 's1', 'conf': '/etc/m2/ceph.conf', 'user': 'm2'}))

    def test_injection_refused(self):
        for backing in ({'type': 'file', 'path': '/x.img,bstype=aio'},
                        {'type': 'file', 'path': 'x.img'},
                        {'type': 'file', 'path': '/a/../b'},
                        {'type': 'rbd', 'pool': 'p', 'image': 'i', 'user': 'm2',
                         'conf': '/c.conf;id=admin'},
                        {'type': 'rbd', 'pool': 'p', 'image': 'i;id=admin', 'user': 'm2',
                         'conf': '/c.conf'},
                        {'type': 'lvm'}, None):
            self.assertRaises(exception.Invalid, tgt.backing_args, backing)
        self.config(rbd_bsopts=['a=b;id=admin'], group='tgt')
        self.assertRaises(exception.Invalid, tgt.backing_args,
                          {'type': 'rbd', 'pool': 'p', 'image': 'i', 'user': 'm2',
                           'conf': '/c.conf'})
