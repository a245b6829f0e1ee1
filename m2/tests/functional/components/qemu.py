"""Boot real (virtual) nodes in functional tests: the test disk image and QEMU.

``BootImageFixture`` builds ``m2-test-disk.raw`` with ``tools/boot-image.sh build`` (quick once the
kernel is cached) into a temp dir. ``boot_node()`` runs ``tools/boot_node.py`` (QEMU, TCG,
user-mode networking with its built-in TFTP) and returns what it printed and the serial log.
``add_tgt_target()`` exports a disk file on a private tgtd (``components.tgt.TgtdFixture``) as
LUN 1, bound to one initiator name, the way M2's tgt driver does. ``require_qemu()`` skips loudly
when the machine lacks QEMU or the image-building tools.
"""

import dataclasses
import os
import re
import shutil
import subprocess

import fixtures
import testtools

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))))
BOOT_IMAGE = os.path.join(REPO, 'tools', 'boot-image.sh')
BOOT_NODE = os.path.join(REPO, 'tools', 'boot_node.py')
DISK_NAME = 'm2-test-disk.raw'
# The image keeps its marker in the first sector of the disk's last MiB (see boot-image.sh).
MARKER_AREA_FROM_END = 1024 * 1024

_TOOLS = ('qemu-system-x86_64', 'syslinux', 'mcopy', 'mkfs.fat', 'sfdisk', 'busybox', 'cpio')


def require_qemu():
    missing = [t for t in _TOOLS if not shutil.which(t)]
    if missing:
        raise testtools.TestCase.skipException(
            '*** SKIPPED: %s not installed; run `tools/boot-image.sh install` to boot real '
            'nodes under QEMU ***' % ', '.join(missing))


class BootImageFixture(fixtures.Fixture):
    """Build the test disk; ``self.path`` is the image (treat it as golden: copy it)."""

    def _setUp(self):
        require_qemu()
        out = self.useFixture(fixtures.TempDir()).path
        proc = subprocess.run([BOOT_IMAGE, 'build', out], capture_output=True, text=True,
                              timeout=600)
        if proc.returncode != 0:
            # Installed tools that fail to build are a real failure, not a skip.
            raise RuntimeError('tools/boot-image.sh build failed:\n%s' % proc.stderr)
        self.path = os.path.join(out, DISK_NAME)
        self.build_log = proc.stderr

    def copy(self, dest):
        """A sparse copy of the image, like a node's clone of a golden image."""
        subprocess.run(['cp', '--sparse=always', self.path, dest], check=True)
        return dest


def tftp_files(directory):
    """Put pxelinux.0, ldlinux.c32 and ipxe.lkrn (Debian's) into a TFTP directory."""
    proc = subprocess.run([BOOT_IMAGE, 'tftp-files', directory], capture_output=True, text=True,
                          timeout=60)
    if proc.returncode != 0:
        raise RuntimeError('tools/boot-image.sh tftp-files failed:\n%s' % proc.stderr)


def read_disk_marker(path):
    """The marker line the guest wrote into a disk file, or None."""
    size = os.path.getsize(path)
    with open(path, 'rb') as f:
        f.seek(size - MARKER_AREA_FROM_END)
        data = f.read(512).split(b'\0', 1)[0].decode('ascii', 'replace')
    line = data.split('\n', 1)[0]
    return line if line.startswith('M2-DISK-MARKER ') else None


def tgtadm(control_port, *args):
    return subprocess.run(['tgtadm', '-C', str(control_port), '--lld', 'iscsi'] + list(args),
                          capture_output=True, text=True, check=True, timeout=30)


def add_tgt_target(tgtd, tid, target_iqn, backing_file, initiator_iqn, chap=None):
    """Export ``backing_file`` read-write as LUN 1 of a new target, for one initiator.

    ``chap`` = (user, password) also requires CHAP (the test tgtd is private and short-lived,
    so the password on tgtadm's command line is acceptable here).
    """
    tgtadm(tgtd.control_port, '--mode', 'target', '--op', 'new', '--tid', str(tid),
           '-T', target_iqn)
    tgtadm(tgtd.control_port, '--mode', 'logicalunit', '--op', 'new', '--tid', str(tid),
           '--lun', '1', '-b', backing_file)
    tgtadm(tgtd.control_port, '--mode', 'target', '--op', 'bind', '--tid', str(tid),
           '-Q', initiator_iqn)
    if chap:
        tgtadm(tgtd.control_port, '--mode', 'account', '--op', 'new',
               '--user', chap[0], '--password', chap[1])
        tgtadm(tgtd.control_port, '--mode', 'account', '--op', 'bind', '--tid', str(tid),
               '--user', chap[0])


def ipxe_sanboot_script(address, port, target_iqn, initiator_iqn, chap=None):
    """An iPXE script like the ones M2's boot drivers write (``exit 1`` fails fast)."""
    lines = ['#!ipxe', 'dhcp', 'set initiator-iqn %s' % initiator_iqn]
    if chap:
        lines += ['set username %s' % chap[0], 'set password %s' % chap[1]]
    lines.append('sanboot iscsi:%s::%d:1:%s || exit 1' % (address, port, target_iqn))
    return '\n'.join(lines) + '\n'


@dataclasses.dataclass
class BootResult:
    returncode: int
    output: str        # what boot_node.py printed ("marker after N.N s", timeline, ...)
    serial: str        # the guest's serial console

    @property
    def marker_seconds(self):
        m = re.search(r'^marker after ([0-9.]+) s$', self.output, re.M)
        return float(m.group(1)) if m else None

    def value(self, key):
        """The text after ``KEY=`` on the last serial line that has it, or None."""
        found = re.findall(r'^%s=(.*?)\r?$' % re.escape(key), self.serial, re.M)
        return found[-1] if found else None


def boot_node(tftp_dir, bootfile, mac, serial_log, timeout=150, marker='M2-BOOT-MARKER',
              wait_exit=False, iscsi_port=None):
    """Run tools/boot_node.py once and return a BootResult."""
    cmd = [BOOT_NODE, '--tftp', tftp_dir, '--bootfile', bootfile, '--mac', mac,
           '--serial-log', serial_log, '--timeout', str(timeout), '--marker', marker]
    if wait_exit:
        cmd.append('--wait-exit')
    if iscsi_port:
        cmd += ['--iscsi-port', str(iscsi_port)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 60)
    with open(serial_log, 'rb') as f:
        serial = f.read().decode('utf-8', 'replace')
    return BootResult(proc.returncode, proc.stdout + proc.stderr, serial)
