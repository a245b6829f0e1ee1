"""M2 does its job: a node provisioned through the API network-boots from its own disk.

Everything is real: a private ``m2-server`` with the ``tgt`` iSCSI driver and a boot driver
(``ipxe`` or ``pxe``) writing into the TFTP directory of a QEMU machine (``tools/boot_node.py``,
TCG, user-mode networking); a private tgtd; file storage or the shared Ceph cluster
(``tools/ceph.sh``, tgtd's rbd backing store). The disk is the test image of
``tools/boot-image.sh``: its guest prints ``M2-BOOT-MARKER node=<initiator> target=<iqn>``, logs in
to iSCSI again from Linux through the iBFT iPXE leaves, and writes a marker into the last MiB of
its disk (``M2-WRITTEN-BY=...``).

The guest reaches the host's loopback as 10.0.2.2, so ``[iscsi] portals`` (what goes into the
node's iPXE script) is ``10.0.2.2:<port>`` while tgtd listens on ``127.0.0.1:<port>``.

1. file + tgt + ipxe: one node boots from its clone (the write lands in its disk only).
2. ceph + tgt (rbd) + pxe, with etc/m2/node.ipxe.j2 as ``[boot] ipxe_template``: a node boots
   from a golden image and writes; its snapshot provisions a second node, which boots and sees
   the first node's write; the golden image is unchanged.
3. Two nodes provisioned and booted at once, each from its own disk.
4. A machine with another MAC and another initiator name cannot log in to a node's target.
5. Deprovision removes the boot files and the target: the node's MAC no longer boots.

Each successful boot prints ``provision-to-marker N.N s`` (the provision call to the guest's
``M2-BOOT-MARKER``) on stdout and in the test's details; with ``M2_BOOT_E2E_TIMES=<file>`` each is
also appended there as a JSON line. Boots take 20-60 s under TCG on a busy 2-core machine.

Run: ``.venv/bin/python -m stestr --test-path m2/tests/functional run test_boot_e2e``
"""

import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import uuid

import fixtures
import testtools

from m2.drivers.boot import ipxe
from m2.drivers.iscsi import tgtadm
from m2.tests import base as tests_base
from m2.tests.functional import base
from m2.tests.functional import server as server_mod
from m2.tests.functional.components import ceph as ceph_component
from m2.tests.functional.components import qemu
from m2.tests.functional.components import tgt as tgt_component

BOOT_TIMEOUT = 180   # per boot: TCG on a shared 2-core machine is slow
FAIL_TIMEOUT = 120   # a refused boot ends with iPXE's "exit 1" well before this
TIMES_ENV = 'M2_BOOT_E2E_TIMES'
# The template operators copy to /etc/m2 and point [boot] ipxe_template at.
OPERATOR_TEMPLATE = os.path.join(qemu.REPO, 'etc', 'm2', 'node.ipxe.j2')
_MARKER_LINE = re.compile(r'^\s*([0-9.]+) s  M2-BOOT-MARKER ', re.M)


def mac(n):
    return '52:54:00:e2:%02x:%02x' % (os.getpid() % 256, n)


def dashes(mac_address):
    return mac_address.replace(':', '-')


class BootE2ETest(base.FunctionalTest):
    """A private tgtd, a TFTP directory and a private m2-server writing boot files into it."""

    boot_driver = 'ipxe'
    bootfile = 'boot.ipxe'

    def setUp(self):
        # Not base.FunctionalTest.setUp: the server's config needs tgtd's ports. Skips are
        # checked here, before any fixture, so they reach testtools as skips (loudly).
        testtools.TestCase.setUp(self)
        qemu.require_qemu()
        for tool in ('tgtd', 'tgtadm'):
            if not shutil.which(tool):
                self.skipTest('*** SKIPPED: %s is not installed; run `tools/tgt.sh install` to '
                              'boot nodes from M2 targets ***' % tool)
        self.extra_conf = {}
        self.setup_storage()
        self.tgtd = self.useFixture(tgt_component.TgtdFixture())
        self.port = int(self.tgtd.portal.rsplit(':', 1)[1])
        self.image = self.useFixture(qemu.BootImageFixture())
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.tftp = os.path.join(self.dir, 'tftp')
        os.mkdir(self.tftp)
        conf = {'drivers': {'iscsi': 'tgt', 'boot': self.boot_driver},
                'tgt': {'control_port': self.tgtd.control_port},
                # What the node's iPXE script names: the host's loopback as the guest sees it.
                'iscsi': {'portals': '10.0.2.2:%d' % self.port},
                # One retry (exercises the script's retry loop) keeps refused boots short.
                'boot': {'tftp_root': self.tftp, 'sanboot_retries': 1,
                         'sanboot_retry_delay': 1}}
        for section, values in self.extra_conf.items():
            conf.setdefault(section, {}).update(values)
        self.server = self.useFixture(server_mod.ServerFixture(conf=conf))
        self.times = []

    def setup_storage(self):
        """File storage: nothing to start."""

    # -- images and nodes ------------------------------------------------------------

    def import_test_image(self, project):
        """The test disk as a storage image, imported through the API; return the image."""
        source = base.unique('bootsrc')
        directory = os.path.join(self.server.state_path, 'images')
        os.makedirs(directory, exist_ok=True)
        self.image.copy(os.path.join(directory, source))
        return self.import_source(project, source)

    def import_source(self, project, source):
        image = self.api('POST', '/v1/images', {'name': base.unique('img'), 'project': project,
                                                'source': source}, expect=202)
        image = self.server.wait_stable('images', image['id'], timeout=120)
        self.assertEqual('active', image['status'], image)
        return image

    def start_provision(self, project, image, mac_address):
        """POST /v1/nodes; return (node name, monotonic time of the call)."""
        name = base.unique('node')
        started = time.monotonic()
        self.api('POST', '/v1/nodes', {'name': name, 'project': project, 'image': image,
                                       'nic': 'eno1', 'mac': mac_address}, expect=202)
        return name, started

    def wait_active(self, name):
        node = self.server.wait_stable('nodes', name, timeout=120)
        self.assertEqual('active', node['provision_state'], node)
        return node

    def disk_marker(self, disk):
        """The marker the guest wrote into a node's (or image's) disk, or None."""
        return qemu.read_disk_marker(os.path.join(self.server.state_path, 'images', disk))

    def targets(self):
        proc = subprocess.run(['tgtadm', '-C', str(self.tgtd.control_port), '--lld', 'iscsi',
                               '--mode', 'target', '--op', 'show'],
                              capture_output=True, text=True, timeout=30, check=True)
        return {t['iqn']: t for t in tgtadm.parse_targets(proc.stdout)}

    # -- boots -----------------------------------------------------------------------

    def boot(self, mac_address, label, timeout=BOOT_TIMEOUT, expect_marker=True):
        """Boot a QEMU machine with ``mac_address`` from the TFTP dir until it powers off."""
        result = qemu.boot_node(self.tftp, self.bootfile, mac_address,
                                os.path.join(self.dir, label + '.serial'), timeout=timeout,
                                marker='M2-BOOT-DONE', wait_exit=True)
        self.addDetail(label, testtools.content.text_content(
            '%s\n--- serial ---\n%s' % (result.output, result.serial)))
        if expect_marker:
            self.assertEqual(0, result.returncode, '%s: %s' % (label, result.output))
        return result

    def boot_many(self, machines):
        """Boot ``[(mac, label)]`` at once; return ``[(QEMU start time, BootResult)]``."""
        with concurrent.futures.ThreadPoolExecutor(len(machines)) as pool:
            futures = []
            for mac_address, label in machines:
                futures.append((time.monotonic(), pool.submit(self.boot, mac_address, label)))
            return [(started, f.result()) for started, f in futures]

    def record(self, label, provision_started, qemu_started, result):
        """Print and keep the provision-to-marker time of a successful boot."""
        found = _MARKER_LINE.search(result.output)
        self.assertIsNotNone(found, 'no M2-BOOT-MARKER in the timeline: %s' % result.output)
        in_guest = float(found.group(1))
        api = qemu_started - provision_started
        total = api + in_guest
        line = ('%s: provision-to-marker %.1f s (provision through the API %.1f s, '
                'QEMU start to marker %.1f s)' % (label, total, api, in_guest))
        print(line, flush=True)
        self.times.append(line)
        self.addDetail('boot-times', testtools.content.text_content('\n'.join(self.times)))
        path = os.environ.get(TIMES_ENV)
        if path:
            with open(path, 'a') as f:
                f.write(json.dumps({'test': self.id(), 'boot': label,
                                    'provision_to_marker_s': round(total, 1),
                                    'provision_s': round(api, 1),
                                    'qemu_to_marker_s': round(in_guest, 1),
                                    'driver': self.boot_driver,
                                    'load': os.getloadavg()[0]}) + '\n')
        return total

    def assert_booted_from(self, result, node, before='none', count=1):
        """The guest names the node's initiator and target and wrote into the node's disk."""
        self.assertIn('M2-BOOT-MARKER node=%s target=%s mac=%s'
                      % (node['initiator_iqn'], node['target']['iqn'], node['mac']),
                      result.serial)
        self.assertEqual(before, result.value('M2-DISK-MARKER-BEFORE'))
        written = result.value('M2-WRITTEN-BY')
        self.assertRegex(written or '', r'^M2-DISK-MARKER count=%d node=%s nonce=[0-9a-f]{12}$'
                         % (count, re.escape(node['initiator_iqn'])))
        self.assertEqual('ok', result.value('M2-BOOT-DONE status'))
        # Linux's own iSCSI login wrote through tgtd into this node's disk.
        self.assertEqual(written, self.disk_marker(node['disk']))
        return written

    def assert_refused(self, result, label):
        self.assertEqual(1, result.returncode, result.output)
        # iPXE's "exit 1" stopped the guest: the script's failure path ran, no timeout.
        stopped = re.search(r'no marker \(guest stopped after ([0-9.]+) s\)', result.output)
        self.assertIsNotNone(stopped, result.output)
        self.assertNotIn('M2-BOOT-MARKER', result.serial)
        print('%s: refused, guest stopped after %s s' % (label, stopped.group(1)), flush=True)


class TestFileIPXE(BootE2ETest):
    """File storage, tgt, the ipxe boot driver (boot.ipxe chains m2/<mac>.ipxe)."""

    def test_node_boots_from_its_clone(self):
        project = self.make_project()
        image = self.import_test_image(project)
        m = mac(1)
        name, t0 = self.start_provision(project, image['id'], m)
        node = self.wait_active(name)
        # The boot files M2 wrote: the shared chain script and the node's own script.
        self.assertTrue(os.path.isfile(os.path.join(self.tftp, 'boot.ipxe')))
        script = os.path.join(self.tftp, 'm2', '%s.ipxe' % dashes(m))
        with open(script) as f:
            self.assertIn('set initiator-iqn %s\n' % node['initiator_iqn'], f.read())

        t1 = time.monotonic()
        result = self.boot(m, 'node1')
        self.assert_booted_from(result, node)
        self.record('file/ipxe node', t0, t1, result)
        # The golden image and its snapshot never saw the write.
        self.assertIsNone(self.disk_marker(image['storage_name']))
        self.assertIsNone(self.disk_marker(image['storage_name'] + '@m2golden'))
        self.assert_audit_clean()

    def test_two_nodes_boot_at_once(self):
        project = self.make_project()
        image = self.import_test_image(project)
        macs = [mac(2), mac(3)]
        started = [self.start_provision(project, image['id'], m) for m in macs]
        nodes = [self.wait_active(name) for name, _ in started]
        self.assertNotEqual(nodes[0]['disk'], nodes[1]['disk'])

        booted = self.boot_many([(m, 'node%d' % i) for i, m in enumerate(macs, 1)])
        written = []
        rows = zip(nodes, started, booted, strict=True)
        for i, (node, (_, t0), (t1, result)) in enumerate(rows, 1):
            written.append(self.assert_booted_from(result, node))
            self.record('file/ipxe concurrent node %d of 2' % i, t0, t1, result)
        # Each disk holds its own node's write and only that.
        self.assertNotEqual(written[0], written[1])
        self.assertIsNone(self.disk_marker(image['storage_name']))
        self.assert_audit_clean()

    def test_other_machine_refused_then_deprovisioned_node_cannot_boot(self):
        project = self.make_project()
        image = self.import_test_image(project)
        m = mac(4)
        name, _ = self.start_provision(project, image['id'], m)
        node = self.wait_active(name)
        iqn = node['target']['iqn']
        script = os.path.join(self.tftp, 'm2', '%s.ipxe' % dashes(m))

        # 4. A machine with another MAC that knows the node's target (its script is the
        # node's with its own initiator name) cannot log in: tgtd binds the node's initiator.
        intruder_mac = mac(5)
        intruder_iqn = 'iqn.2026-11.org.elsewhere:intruder-%s' % uuid.uuid4().hex[:6]
        with open(script) as f:
            node_script = f.read()
        intruder_script = node_script.replace(node['initiator_iqn'], intruder_iqn)
        self.assertNotEqual(node_script, intruder_script)
        with open(os.path.join(self.tftp, 'm2', '%s.ipxe' % dashes(intruder_mac)), 'w') as f:
            f.write(intruder_script)
        refused = self.boot(intruder_mac, 'intruder', timeout=FAIL_TIMEOUT,
                            expect_marker=False)
        self.assert_refused(refused, 'intruder')
        self.assertEqual([node['initiator_iqn']], self.targets()[iqn]['acls'])
        self.assertEqual([], self.targets()[iqn]['sessions'])
        self.assertIsNone(self.disk_marker(node['disk']))

        # 5. Deprovision: the node's script, its target and its disk are gone...
        self.api('DELETE', '/v1/nodes/%s' % name, expect=202)
        self.server.wait_for('/v1/nodes/%s' % name, gone=True, timeout=60)
        self.assertFalse(os.path.exists(script))
        self.assertNotIn(iqn, self.targets())
        self.assertNotIn(node['disk'], self.storage_names())
        # ... so the node's machine no longer boots (boot.ipxe finds no script for its MAC).
        self.assertTrue(os.path.isfile(os.path.join(self.tftp, 'boot.ipxe')))
        gone = self.boot(m, 'deprovisioned', timeout=FAIL_TIMEOUT, expect_marker=False)
        self.assert_refused(gone, 'deprovisioned node')
        os.unlink(os.path.join(self.tftp, 'm2', '%s.ipxe' % dashes(intruder_mac)))
        report = self.api('GET', '/v1/audit', expect=200)
        self.assertTrue(report['clean'], report)


class TestCephPXE(BootE2ETest):
    """Ceph storage, tgt's rbd backing store, the pxe boot driver (pxelinux -> ipxe.lkrn)."""

    boot_driver = 'pxe'
    bootfile = 'pxelinux.0'

    def setup_storage(self):
        reason = ceph_component.missing()
        if reason:
            self.skipTest(reason)
        self.cluster = self.useFixture(ceph_component.CephFixture()).cluster
        # Names of its own in the shared pool, all removed at the end (after tgtd has
        # stopped: cleanups run in reverse, and tgtd holds watches on the clones it exports).
        self.prefix = 'boote2e' + uuid.uuid4().hex[:8]
        self.addCleanup(self.cluster.purge, self.prefix)
        self.extra_conf = {'DEFAULT': {'uid': self.prefix},
                           'drivers': {'storage': 'ceph'},
                           # The operator's copy of the script template, as boot.rst says.
                           'boot': {'ipxe_template': OPERATOR_TEMPLATE},
                           'ceph': {'pool': self.cluster.pool, 'conffile': self.cluster.conffile,
                                    'user': self.cluster.user,
                                    'keyring': self.cluster.keyring}}

    def setUp(self):
        super().setUp()
        shows = subprocess.run(['tgtadm', '-C', str(self.tgtd.control_port), '--mode', 'system',
                                '--op', 'show'], capture_output=True, text=True, timeout=30)
        if 'rbd' not in shows.stdout:
            self.skipTest('*** SKIPPED: tgtd has no rbd backing store; install tgt-rbd '
                          '(tools/tgt.sh install) ***')
        # pxelinux.0, ldlinux.c32 and ipxe.lkrn ([boot] pxe_ipxe_kernel): the operator's part.
        qemu.tftp_files(self.tftp)

    def rbd_file(self, spec):
        """Export an RBD image (or image@snapshot) to a file; return its path."""
        path = os.path.join(self.dir, 'export-%s.raw' % uuid.uuid4().hex[:6])
        self.cluster.rbd('export', '--no-progress', spec, path)
        return path

    def disk_marker(self, disk):
        path = self.rbd_file(disk)
        try:
            return qemu.read_disk_marker(path)
        finally:
            os.unlink(path)

    def digest(self, spec):
        path = self.rbd_file(spec)
        try:
            with open(path, 'rb') as f:
                return hashlib.file_digest(f, 'sha256').hexdigest()
        finally:
            os.unlink(path)

    def test_snapshot_of_booted_node_boots_second_node(self):
        project = self.make_project()
        source = '%s-src' % self.prefix
        self.cluster.rbd('import', '--no-progress', '--image-format', '2', self.image.path,
                         source)
        image = self.import_source(project, source)
        with open(self.image.path, 'rb') as f:
            pristine = hashlib.file_digest(f, 'sha256').hexdigest()
        golden = image['storage_name']
        self.assertEqual(pristine, self.digest(golden))

        m1, m2 = mac(6), mac(7)
        name1, t0 = self.start_provision(project, image['id'], m1)
        n1 = self.wait_active(name1)
        with open(os.path.join(self.tftp, 'pxelinux.cfg', '01-%s' % dashes(m1))) as f:
            self.assertIn('INITRD m2/%s.ipxe' % dashes(m1), f.read())
        with open(self.server.log_file) as f:
            self.assertIn('Using iPXE script template %s' % OPERATOR_TEMPLATE, f.read())
        self.assertEqual('rbd', self.targets()[n1['target']['iqn']]['luns'][1]['bstype'])
        t1 = time.monotonic()
        first = self.boot(m1, 'node1')
        written = self.assert_booted_from(first, n1)
        self.record('ceph/pxe node from golden', t0, t1, first)

        # Snapshot the node (quiet now: its guest powered off) and boot a second node from it.
        snap = self.api('POST', '/v1/nodes/%s/snapshot' % name1, {'name': base.unique('snap')},
                        expect=202)
        snap = self.server.wait_stable('images', snap['id'], timeout=120)
        self.assertEqual(('active', 'snapshot'), (snap['status'], snap['kind']), snap)
        name2, t0 = self.start_provision(project, snap['id'], m2)
        n2 = self.wait_active(name2)
        t1 = time.monotonic()
        second = self.boot(m2, 'node2')
        # It starts with node 1's write, and adds its own as the second writer.
        self.assert_booted_from(second, n2, before=written, count=2)
        self.record('ceph/pxe node from snapshot', t0, t1, second)

        # Node 1's disk keeps its own write; the golden image never changed.
        self.assertEqual(written, self.disk_marker(n1['disk']))
        self.assertEqual(pristine, self.digest(golden))
        self.assertEqual(pristine, self.digest('%s@m2golden' % golden))
        self.assert_audit_clean()


class TestOperatorTemplate(tests_base.TestCase):
    """etc/m2/node.ipxe.j2 stays the shipped template (no QEMU needed)."""

    def test_operator_copy_renders_like_the_shipped_template(self):
        self.config(group='boot', tftp_root=os.path.join(self.state_path, 'tftp'))
        node = {'name': 'n1', 'mac': '52:54:00:00:00:01',
                'initiator_iqn': 'iqn.2026-11.org.m2:initiator:n1',
                'target': {'iqn': 'iqn.2026-11.org.m2:t-n1', 'lun': 1,
                           'portals': ['10.20.0.1:3260', '10.20.0.2:3260']}}
        for chap in (None, ('n1user', 'S3cret.secret')):
            node['chap'] = chap
            shipped = ipxe.IPXEBootDriver().render_script(node)
            self.config(group='boot', ipxe_template=OPERATOR_TEMPLATE)
            self.assertEqual(shipped, ipxe.IPXEBootDriver().render_script(node),
                             'etc/m2/node.ipxe.j2 differs from m2/drivers/boot/templates/'
                             'node.ipxe.j2: copy the shipped template again')
            self.config(group='boot', ipxe_template=None)
            self.assertTrue(shipped.startswith('#!ipxe\n'))
