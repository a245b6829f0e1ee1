"""The IET driver: exact ietadm commands and config file contents.

The IET kernel module cannot load on the machines m2 is tested on, so these
tests replace only ``iet._execute`` (the one function that runs ietadm) and
point ``[iet] proc_dir`` at files shaped like ``/proc/net/iet``.
"""

import os

import fixtures

from m2.common import exception
from m2.drivers.iscsi import iet
from m2.tests import base

IQN = 'iqn.2026-11.org.m2:abc-n1'
INITIATOR = 'iqn.2026-11.org.m2:initiator:n1'

VOLUME = """\
tid:3 name:iqn.2026-11.org.m2:abc-n1
\tlun:1 state:0 iotype:fileio iomode:wt blocks:8192 blocksize:512 path:/srv/n1.img
tid:1 name:iqn.2001-04.com.example:other
\tlun:0 state:0 iotype:blockio iomode:wt blocks:8192 blocksize:512 path:/dev/sdb
"""

SESSION = """\
tid:3 name:iqn.2026-11.org.m2:abc-n1
\tsid:562949974196736 initiator:iqn.2026-11.org.m2:initiator:n1
\t\tcid:0 ip:10.0.0.5 state:active hd:none dd:none
tid:1 name:iqn.2001-04.com.example:other
"""


class IetDriverTest(base.TestCase):

    def setUp(self):
        super().setUp()
        d = self.state_path
        self.proc = os.path.join(d, 'proc')
        os.mkdir(self.proc)
        self.conf = os.path.join(d, 'ietd.conf')
        self.allow = os.path.join(d, 'initiators.allow')
        self.deny = os.path.join(d, 'initiators.deny')
        self.config(ietd_conf=self.conf, initiators_allow=self.allow,
                    initiators_deny=self.deny, proc_dir=self.proc, group='iet')
        self.config(portals=['192.0.2.1:3260'], group='iscsi')
        self.set_proc('', '')
        self.calls = []
        self.useFixture(fixtures.MonkeyPatch('m2.drivers.iscsi.iet._execute', self._execute))
        self.write(self.conf, '# operator settings stay\nTarget iqn.2001-04.com.example:other\n'
                              '    Lun 0 Path=/dev/sdb,Type=blockio\n')
        self.write(self.allow, 'iqn.2001-04.com.example:other 10.0.0.0/24\n')
        self.driver = iet.IetDriver()

    def _execute(self, *args):
        self.calls.append(list(args))
        return ''

    def write(self, path, text):
        with open(path, 'w') as f:
            f.write(text)

    def read(self, path):
        with open(path) as f:
            return f.read()

    def set_proc(self, volume, session):
        self.write(os.path.join(self.proc, 'volume'), volume)
        self.write(os.path.join(self.proc, 'session'), session)

    def test_create_commands_and_files(self):
        info = self.driver.create_target(IQN, {'type': 'file', 'path': '/srv/n1.img'},
                                         INITIATOR, chap=('n1user', 'S3cretS3cret'))
        self.assertEqual({'iqn': IQN, 'portals': ['192.0.2.1:3260'], 'lun': 1}, info)
        self.assertEqual(
            [['--op', 'new', '--tid=1', '--params', 'Name=' + IQN],
             ['--op', 'new', '--tid=1', '--lun=1', '--params', 'Path=/srv/n1.img,Type=fileio'],
             ['--op', 'new', '--tid=1', '--user',
              '--params=IncomingUser=n1user,Password=S3cretS3cret']],
            self.calls)
        self.assertEqual(
            '# operator settings stay\n'
            'Target iqn.2001-04.com.example:other\n'
            '    Lun 0 Path=/dev/sdb,Type=blockio\n'
            'Target iqn.2026-11.org.m2:abc-n1\n'
            '    Lun 1 Path=/srv/n1.img,Type=fileio\n'
            '    IncomingUser n1user S3cretS3cret\n',
            self.read(self.conf))
        self.assertEqual(0o600, os.stat(self.conf).st_mode & 0o777)
        self.assertEqual('iqn.2001-04.com.example:other 10.0.0.0/24\n'
                         'iqn.2026-11.org.m2:abc-n1 iqn.2026-11.org.m2:initiator:n1\n',
                         self.read(self.allow))
        self.assertEqual('iqn.2026-11.org.m2:abc-n1 ALL\n', self.read(self.deny))

    def test_next_tid_readonly_and_block_device(self):
        self.set_proc(VOLUME, '')
        self.driver.create_target('iqn.2026-11.org.m2:abc-n2',
                                  {'type': 'file', 'path': '/dev/vg0/n2'},
                                  'iqn.2026-11.org.m2:initiator:n2', readonly=True)
        self.assertEqual(
            [['--op', 'new', '--tid=4', '--params', 'Name=iqn.2026-11.org.m2:abc-n2'],
             ['--op', 'new', '--tid=4', '--lun=1', '--params',
              'Path=/dev/vg0/n2,Type=blockio,IOMode=ro']],
            self.calls)
        self.assertIn('Target iqn.2026-11.org.m2:abc-n2\n'
                      '    Lun 1 Path=/dev/vg0/n2,Type=blockio,IOMode=ro\n',
                      self.read(self.conf))

    def test_create_is_idempotent(self):
        self.set_proc(VOLUME, '')
        backing = {'type': 'file', 'path': '/srv/n1.img'}
        self.driver.create_target(IQN, backing, INITIATOR)
        self.driver.create_target(IQN, backing, INITIATOR)
        self.assertEqual([], self.calls)   # already live with that LUN
        self.assertEqual(1, self.read(self.conf).count('Target ' + IQN))
        self.assertEqual(1, self.read(self.allow).count(IQN))
        self.assertRaises(exception.TargetExists, self.driver.create_target, IQN,
                          {'type': 'file', 'path': '/srv/other.img'}, INITIATOR)

    def test_recreate_with_chap_replaces_the_user(self):
        self.set_proc(VOLUME, '')
        self.driver.create_target(IQN, {'type': 'file', 'path': '/srv/n1.img'}, INITIATOR,
                                  chap=('n1user', 'NewSecret123'))
        self.assertEqual(
            [['--op', 'delete', '--tid=3', '--user', '--params=IncomingUser=n1user'],
             ['--op', 'new', '--tid=3', '--user',
              '--params=IncomingUser=n1user,Password=NewSecret123']],
            self.calls)

    def test_delete_closes_connections_then_target_and_cleans_files(self):
        self.set_proc(VOLUME, SESSION)
        self.driver.create_target(IQN, {'type': 'file', 'path': '/srv/n1.img'}, INITIATOR)
        self.driver.delete_target(IQN)
        self.assertEqual(
            [['--op', 'delete', '--tid=3', '--sid=562949974196736', '--cid=0'],
             ['--op', 'delete', '--tid=3']],
            self.calls)
        self.assertEqual('# operator settings stay\n'
                         'Target iqn.2001-04.com.example:other\n'
                         '    Lun 0 Path=/dev/sdb,Type=blockio\n', self.read(self.conf))
        self.assertEqual('iqn.2001-04.com.example:other 10.0.0.0/24\n', self.read(self.allow))
        self.assertEqual('', self.read(self.deny))

    def test_delete_gone_is_success(self):
        self.driver.delete_target(IQN)
        self.assertEqual([], self.calls)

    def test_list_targets(self):
        self.set_proc(VOLUME, SESSION)
        self.write(self.allow, '%s %s\n' % (IQN, INITIATOR))
        self.assertEqual(
            [{'iqn': IQN, 'tid': 3, 'backing': '/srv/n1.img', 'backing_type': 'file',
              'readonly': False, 'initiators': [INITIATOR], 'connections': 1,
              'connected': [INITIATOR]}],
            self.driver.list_targets())

    def test_rbd_is_refused_clearly(self):
        exc = self.assertRaises(exception.Invalid, self.driver.create_target, IQN,
                                {'type': 'rbd', 'pool': 'rbd', 'image': 'x',
                                 'conf': '/etc/ceph/ceph.conf', 'user': 'm2'}, INITIATOR)
        self.assertIn('rbd map', str(exc))
        self.assertEqual([], self.calls)

    def test_unsafe_values_refused(self):
        for args in (({'type': 'file', 'path': '/x,Type=blockio'}, INITIATOR, None),
                     ({'type': 'file', 'path': 'rel.img'}, INITIATOR, None),
                     ({'type': 'file', 'path': '/x.img'}, 'not an iqn', None),
                     ({'type': 'file', 'path': '/x.img'}, INITIATOR, ('u', 'a,Password=b')),
                     ({'type': 'file', 'path': '/x.img'}, INITIATOR, ('u', 'two words'))):
            self.assertRaises(exception.Invalid, self.driver.create_target, IQN, *args)
        self.assertEqual([], self.calls)

    def test_no_module_is_backend_unavailable(self):
        self.config(proc_dir=os.path.join(self.state_path, 'missing'), group='iet')
        self.assertRaises(exception.BackendUnavailable, self.driver.list_targets)

    def test_password_redacted_from_command_log(self):
        record = iet.logging.LogRecord('m2.common.utils', 10, __file__, 1, 'Running %s',
                                       (['ietadm', '--op', 'new', '--tid=1', '--user',
                                         '--params=IncomingUser=u,Password=S3cret'],), None)
        iet._FILTER.filter(record)
        self.assertNotIn('S3cret', record.getMessage())
        self.assertIn('Password=***', record.getMessage())
