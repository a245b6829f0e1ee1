"""The boot tooling end to end, without M2: test disk -> private tgtd -> QEMU -> iPXE sanboot.

Builds the test disk with ``tools/boot-image.sh``, exports a copy of it on a private tgtd as
LUN 1 bound to one initiator name, and boots a diskless QEMU machine through a hand-written iPXE
script with ``tools/boot_node.py``. Asserts the guest printed the boot marker naming its own
initiator and target, re-logged in to iSCSI from Linux and wrote its disk marker, that the write
landed in that node's copy only, and that a second boot of the same disk sees the first one's
write. A second test boots through the pxelinux chain, with CHAP and the guest cut off from
everything but its iSCSI forward. Each boot is 12-45 s under TCG depending on the machine's load.
"""

import os
import uuid

import fixtures
import testtools

from m2.tests.functional.components import qemu
from m2.tests.functional.components import tgt as tgt_component

PREFIX = 'iqn.2026-11.org.m2boot%s' % uuid.uuid4().hex[:6]


class BootImageTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        qemu.require_qemu()
        self.tgtd = self.useFixture(tgt_component.TgtdFixture())
        self.port = int(self.tgtd.portal.rsplit(':', 1)[1])
        self.image = self.useFixture(qemu.BootImageFixture())
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.tftp = os.path.join(self.dir, 'tftp')
        os.mkdir(self.tftp)

    def export_node(self, tid, name, chap=None):
        """A node's disk: a copy of the image as a target only that node's initiator may use."""
        disk = self.image.copy(os.path.join(self.dir, '%s.raw' % name))
        target = '%s:%s' % (PREFIX, name)
        initiator = '%s:initiator-%s' % (PREFIX, name)
        qemu.add_tgt_target(self.tgtd, tid, target, disk, initiator, chap=chap)
        return disk, target, initiator

    def boot(self, bootfile, mac, log_name, **kw):
        result = qemu.boot_node(self.tftp, bootfile, mac, os.path.join(self.dir, log_name), **kw)
        self.addDetail(log_name, testtools.content.text_content(result.output + result.serial))
        return result

    def test_sanboot_marker_and_disk_write_seen_by_next_boot(self):
        disk, target, initiator = self.export_node(1, 'node1')
        with open(os.path.join(self.tftp, 'node1.ipxe'), 'w') as f:
            f.write(qemu.ipxe_sanboot_script('10.0.2.2', self.port, target, initiator))
        self.assertIsNone(qemu.read_disk_marker(self.image.path))

        first = self.boot('node1.ipxe', '52:54:00:00:01:01', 'boot1.log',
                          marker='M2-BOOT-DONE', wait_exit=True)
        self.assertEqual(0, first.returncode, first.output)
        self.assertIn('M2-BOOT-MARKER node=%s target=%s mac=52:54:00:00:01:01'
                      % (initiator, target), first.serial)
        self.assertEqual('none', first.value('M2-DISK-MARKER-BEFORE'))
        written = first.value('M2-WRITTEN-BY')
        self.assertRegex(written, r'^M2-DISK-MARKER count=1 node=%s nonce=[0-9a-f]{12}$'
                         % initiator)
        self.assertEqual('ok', first.value('M2-BOOT-DONE status'))
        # The write went over iSCSI into this node's backing file, not the golden image.
        self.assertEqual(written, qemu.read_disk_marker(disk))
        self.assertIsNone(qemu.read_disk_marker(self.image.path))

        second = self.boot('node1.ipxe', '52:54:00:00:01:01', 'boot2.log',
                           marker='M2-BOOT-DONE', wait_exit=True)
        self.assertEqual(0, second.returncode, second.output)
        self.assertEqual(written, second.value('M2-DISK-MARKER-BEFORE'))
        self.assertIn('count=2 ', second.value('M2-WRITTEN-BY'))
        self.assertEqual(second.value('M2-WRITTEN-BY'), qemu.read_disk_marker(disk))

    def test_pxelinux_chain_restricted_network_chap(self):
        # CHAP too: iPXE logs in with it and passes it on in the iBFT for Linux's re-login.
        chap = ('m2node2', uuid.uuid4().hex[:16])
        disk, target, initiator = self.export_node(2, 'node2', chap=chap)
        qemu.tftp_files(self.tftp)
        for name in ('pxelinux.0', 'ldlinux.c32', 'ipxe.lkrn'):
            self.assertTrue(os.path.isfile(os.path.join(self.tftp, name)), name)
        # pxelinux hands over to ipxe.lkrn with the script as its initrd; the guest may only
        # reach the forward to tgtd (10.0.2.100), so that is the address the script names.
        with open(os.path.join(self.tftp, 'node2.ipxe'), 'w') as f:
            f.write(qemu.ipxe_sanboot_script('10.0.2.100', self.port, target, initiator,
                                             chap=chap))
        os.mkdir(os.path.join(self.tftp, 'pxelinux.cfg'))
        with open(os.path.join(self.tftp, 'pxelinux.cfg', '01-52-54-00-00-02-02'), 'w') as f:
            f.write('SERIAL 0 115200\nDEFAULT m2\nLABEL m2\n'
                    '  KERNEL ipxe.lkrn\n  INITRD node2.ipxe\n')

        result = self.boot('pxelinux.0', '52:54:00:00:02:02', 'pxe.log', iscsi_port=self.port,
                           marker='M2-BOOT-DONE', wait_exit=True)
        self.assertEqual(0, result.returncode, result.output)
        self.assertIn('ipxe.lkrn', result.serial)
        self.assertIn('M2-BOOT-MARKER node=%s target=%s' % (initiator, target), result.serial)
        self.assertEqual('ok', result.value('M2-BOOT-DONE status'))
        self.assertEqual(result.value('M2-WRITTEN-BY'), qemu.read_disk_marker(disk))

    def test_unreachable_target_fails_fast_with_reason(self):
        # No such target: iPXE's sanboot fails and "exit 1" stops the guest, with no marker.
        with open(os.path.join(self.tftp, 'ghost.ipxe'), 'w') as f:
            f.write(qemu.ipxe_sanboot_script('10.0.2.2', self.port, PREFIX + ':ghost',
                                             PREFIX + ':initiator-ghost'))
        result = self.boot('ghost.ipxe', '52:54:00:00:03:03', 'ghost.log', timeout=90)
        self.assertEqual(1, result.returncode)
        self.assertIn('no marker (guest stopped', result.output)
        self.assertNotIn('M2-BOOT-MARKER', result.serial)
        # iPXE's reason is only on its screen, saved as a PNG beside the serial log.
        with open(os.path.join(self.dir, 'ghost.log.png'), 'rb') as f:
            self.assertEqual(b'\x89PNG', f.read(4))
