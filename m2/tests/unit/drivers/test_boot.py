"""The ipxe and pxe boot drivers: exact files, only under the TFTP root."""

import os

from m2.common import exception
from m2.drivers.boot import common, ipxe, pxe
from m2.tests import base

TARGET_IQN = 'iqn.2026-11.org.m2:m2-node1'


def make_node(**kw):
    node = {'name': 'node1', 'mac': '52:54:00:AA:bb:01',
            'initiator_iqn': 'iqn.2026-11.org.m2:initiator:node1',
            'target': {'iqn': TARGET_IQN, 'portals': ['10.0.2.2:3260'], 'lun': 1},
            'chap': None}
    node.update(kw)
    return node


SCRIPT = """#!ipxe
# m2 boot script for node node1 (52:54:00:aa:bb:01); written by m2, changes are overwritten.
dhcp || goto m2_failed
set initiator-iqn iqn.2026-11.org.m2:initiator:node1
set keep-san 1
set m2try:int32 0
:m2_sanboot
sanboot iscsi:10.0.2.2::3260:1:iqn.2026-11.org.m2:m2-node1 ||
inc m2try
iseq ${m2try} 6 && goto m2_failed ||
echo m2: sanboot of iqn.2026-11.org.m2:m2-node1 failed (attempt ${m2try} of 6), retrying
sleep 2 ||
goto m2_sanboot
:m2_failed
echo m2: node node1 could not boot from iqn.2026-11.org.m2:m2-node1
exit 1
"""

SCRIPT_CHAP_MULTIPATH = """#!ipxe
# m2 boot script for node node1 (52:54:00:aa:bb:01); written by m2, changes are overwritten.
dhcp net1 || goto m2_failed
set initiator-iqn iqn.2026-11.org.m2:initiator:node1
set username node1-user
set password Secret-123456
set m2try:int32 0
:m2_sanboot
sanboot iscsi:192.0.2.1::3260:2:iqn.2026-11.org.m2:m2-node1 \
iscsi:[fd00::1]::3261:2:iqn.2026-11.org.m2:m2-node1 ||
inc m2try
iseq ${m2try} 1 && goto m2_failed ||
echo m2: sanboot of iqn.2026-11.org.m2:m2-node1 failed (attempt ${m2try} of 1), retrying
goto m2_sanboot
:m2_failed
echo m2: node node1 could not boot from iqn.2026-11.org.m2:m2-node1
exit 1
""".replace('\\\n', '')

PXELINUX = """# m2 boot configuration for node node1 (52:54:00:aa:bb:01); written by m2.
DEFAULT m2
LABEL m2
  KERNEL ipxe.lkrn
  INITRD m2/52-54-00-aa-bb-01.ipxe
"""

CHAIN = """#!ipxe
# m2: chain the script of the node whose NIC booted (m2/<mac-with-dashes>.ipxe).
# Written once by m2's ipxe boot driver; an operator may edit it.
chain m2/${netX/mac:hexhyp}.ipxe || exit 1
"""


def all_files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, files in os.walk(root) for f in files)


class BootTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.state_path, 'tftpboot')
        self.config(tftp_root=self.root, group='boot')

    def read(self, relpath):
        with open(os.path.join(self.root, relpath)) as f:
            return f.read()


class TestIPXE(BootTestCase):

    def test_prepare_writes_exact_script_and_chain(self):
        driver = ipxe.IPXEBootDriver()
        paths = driver.prepare(make_node())
        self.assertEqual([os.path.join(os.path.realpath(self.root),
                                       'm2/52-54-00-aa-bb-01.ipxe')], paths)
        self.assertEqual(SCRIPT, self.read('m2/52-54-00-aa-bb-01.ipxe'))
        self.assertEqual(CHAIN, self.read('boot.ipxe'))
        self.assertEqual(['boot.ipxe', 'm2/52-54-00-aa-bb-01.ipxe'], all_files(self.root))
        self.assertEqual(0o644, os.stat(paths[0]).st_mode & 0o777)

    def test_chap_multipath_interface_options(self):
        self.config(interface='net1', keep_san=False, sanboot_retries=0,
                    sanboot_retry_delay=0, group='boot')
        node = make_node(chap=('node1-user', 'Secret-123456'),
                         target={'iqn': TARGET_IQN, 'lun': 2,
                                 'portals': ['192.0.2.1:3260', '[fd00::1]:3261']})
        ipxe.IPXEBootDriver().prepare(node)
        self.assertEqual(SCRIPT_CHAP_MULTIPATH, self.read('m2/52-54-00-aa-bb-01.ipxe'))

    def test_prepare_overwrites_and_chain_written_once(self):
        driver = ipxe.IPXEBootDriver()
        driver.prepare(make_node())
        with open(os.path.join(self.root, 'boot.ipxe'), 'w') as f:
            f.write('#!ipxe\n# operator edit\n')
        node = make_node(target={'iqn': TARGET_IQN + 'b', 'portals': ['10.0.2.2:3260'],
                                 'lun': 1})
        driver.prepare(node)
        self.assertIn(TARGET_IQN + 'b', self.read('m2/52-54-00-aa-bb-01.ipxe'))
        self.assertEqual('#!ipxe\n# operator edit\n', self.read('boot.ipxe'))

    def test_clean_idempotent_and_list(self):
        driver = ipxe.IPXEBootDriver()
        driver.prepare(make_node())
        driver.prepare(make_node(name='node2', mac='52-54-00-00-00-02'))
        self.assertEqual(['52:54:00:00:00:02', '52:54:00:aa:bb:01'], driver.list_nodes())
        driver.clean({'name': 'node1', 'mac': '52:54:00:aa:bb:01'})
        driver.clean({'name': 'node1', 'mac': '52:54:00:aa:bb:01'})
        self.assertEqual(['52:54:00:00:00:02'], driver.list_nodes())
        self.assertEqual(['boot.ipxe', 'm2/52-54-00-00-00-02.ipxe'], all_files(self.root))

    def test_list_ignores_foreign_files(self):
        driver = ipxe.IPXEBootDriver()
        os.makedirs(os.path.join(self.root, 'm2'))
        for name in ('README', 'not-a-mac.ipxe', '.tmp-abc'):
            open(os.path.join(self.root, 'm2', name), 'w').close()
        self.assertEqual([], driver.list_nodes())

    def test_operator_template(self):
        template = os.path.join(self.state_path, 'my.ipxe.j2')
        with open(template, 'w') as f:
            f.write('#!ipxe\necho {{ name }} {{ uris | join(",") }}\n')
        self.config(ipxe_template=template, group='boot')
        ipxe.IPXEBootDriver().prepare(make_node())
        self.assertEqual('#!ipxe\necho node1 iscsi:10.0.2.2::3260:1:%s\n' % TARGET_IQN,
                         self.read('m2/52-54-00-aa-bb-01.ipxe'))

    def test_missing_operator_template_fails_at_load(self):
        self.config(ipxe_template='/nonexistent/x.j2', group='boot')
        self.assertRaises(exception.BackendError, ipxe.IPXEBootDriver)

    def test_bad_input_refused_and_nothing_written(self):
        driver = ipxe.IPXEBootDriver()
        target = make_node()['target']
        bad = [
            {'name': '../../etc/passwd'},
            {'name': 'node1\nchain http://evil'},
            {'mac': '../../../etc/passwd'},
            {'mac': '52:54:00:aa:bb'},
            {'mac': None},
            {'initiator_iqn': 'iqn.2026-11.org.m2:x\nshell'},
            {'initiator_iqn': 'iqn.2026-11.org.m2:${secret}'},
            {'target': dict(target, iqn='iqn.2026-11.org.m2:a b')},
            {'target': dict(target, portals=[])},
            {'target': dict(target, portals=['10.0.2.2'])},
            {'target': dict(target, portals=['10.0.2.2:99999'])},
            {'target': dict(target, portals=['10.0.2.2:3260 || shell'])},
            {'target': dict(target, lun='1')},
            {'target': dict(target, lun=-1)},
            {'target': None},
            {'chap': ('user name', 'secret123456')},
            {'chap': ('user', 'secret ${x}')},
            {'chap': ('user', 'sec#ret')},
            {'chap': ('user',)},
        ]
        for change in bad:
            self.assertRaises(exception.Invalid, driver.prepare, make_node(**change))
        self.assertEqual([], all_files(self.root))

    def test_secret_not_in_error(self):
        driver = ipxe.IPXEBootDriver()
        exc = self.assertRaises(exception.Invalid, driver.prepare,
                                make_node(chap=('user', 'leaky secret')))
        self.assertNotIn('leaky', str(exc))

    def test_never_writes_outside_root(self):
        driver = ipxe.IPXEBootDriver()
        # A symlinked script directory pointing out of the root is refused.
        outside = os.path.join(self.state_path, 'outside')
        os.makedirs(outside)
        os.symlink(outside, os.path.join(self.root, 'm2'))
        self.assertRaises(exception.Invalid, driver.prepare, make_node())
        self.assertEqual([], os.listdir(outside))

    def test_helpers(self):
        self.assertEqual('52-54-00-aa-bb-01', common.mac_dashes('52:54:00:AA:BB:01'))
        self.assertEqual(('[fd00::1]', 3260), common.validate_portal('[fd00::1]:3260'))
        self.assertEqual('iscsi:h.example::3260:1:%s' % TARGET_IQN,
                         common.iscsi_uri('h.example:3260', 1, TARGET_IQN))


class TestPXE(BootTestCase):

    def test_prepare_writes_pxelinux_and_script(self):
        driver = pxe.PXEBootDriver()
        paths = driver.prepare(make_node())
        root = os.path.realpath(self.root)
        self.assertEqual([os.path.join(root, 'm2/52-54-00-aa-bb-01.ipxe'),
                          os.path.join(root, 'pxelinux.cfg/01-52-54-00-aa-bb-01')], paths)
        self.assertEqual(PXELINUX, self.read('pxelinux.cfg/01-52-54-00-aa-bb-01'))
        # The script loaded as an initrd must configure the network itself.
        self.assertEqual(SCRIPT, self.read('m2/52-54-00-aa-bb-01.ipxe'))
        self.assertEqual(['m2/52-54-00-aa-bb-01.ipxe', 'pxelinux.cfg/01-52-54-00-aa-bb-01'],
                         all_files(self.root))

    def test_kernel_option(self):
        self.config(pxe_ipxe_kernel='ipxe/ipxe.lkrn', group='boot')
        pxe.PXEBootDriver().prepare(make_node())
        self.assertIn('  KERNEL ipxe/ipxe.lkrn\n', self.read('pxelinux.cfg/01-52-54-00-aa-bb-01'))
        self.config(pxe_ipxe_kernel='ipxe/../../x', group='boot')
        self.assertRaises(exception.Invalid, pxe.PXEBootDriver)

    def test_clean_and_list(self):
        driver = pxe.PXEBootDriver()
        driver.prepare(make_node())
        self.assertEqual(['52:54:00:aa:bb:01'], driver.list_nodes())
        # A leftover pxelinux file alone still shows up (for the audit).
        os.unlink(os.path.join(self.root, 'm2/52-54-00-aa-bb-01.ipxe'))
        self.assertEqual(['52:54:00:aa:bb:01'], driver.list_nodes())
        driver.clean({'name': 'node1', 'mac': '52:54:00:aa:bb:01'})
        driver.clean({'name': 'node1', 'mac': '52:54:00:aa:bb:01'})
        self.assertEqual([], driver.list_nodes())
        self.assertEqual([], all_files(self.root))

    def test_bad_mac_writes_nothing(self):
        driver = pxe.PXEBootDriver()
        self.assertRaises(exception.InvalidMAC, driver.prepare, make_node(mac='01-../../x'))
        self.assertRaises(exception.InvalidMAC, driver.clean, {'name': 'n', 'mac': '../x'})
        self.assertEqual([], all_files(self.root))
