"""Every image and node operation through a real m2-server on a real Ceph cluster.

The server runs the ``ceph`` storage driver (the ``fake`` iSCSI and isolator
drivers, ``ipxe`` boot) against the cluster tools/ceph.sh starts; after each
step the test looks at RBD itself, as client.m2 through the ``rbd`` CLI and
the bindings (images, parents, protected snapshots, children, bytes). Also:
copy-on-write isolation of node disks, a failure injected at every storage
step of provision, snapshot, import and image delete (the ``faulty`` storage
driver wrapping ``ceph``), and the Ceph monitor stopped mid-operation on a
private cluster.

Each server has its own ``[DEFAULT] uid``, so its images and its audit are
its own even though the servers share one pool.

Run: ``.venv/bin/python -m stestr --test-path m2/tests/functional run test_ceph_api``
"""

import atexit
import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid

import fixtures
import requests

from m2.drivers.storage import rbd_client
from m2.tests import faulty
from m2.tests.functional import base
from m2.tests.functional import server as server_mod
from m2.tests.functional.components import ceph as ceph_component

MiB = 1024 * 1024
GOLDEN = 'm2golden'  # [storage] snapshot_name: the snapshot nodes clone
TIMEOUT = 5          # [ceph] connect_timeout and operation_timeout
WRITE = b'GUEST-WROTE-THIS'

# The storage calls behind each step of import, node snapshot and copy
# (call, calls let through first), as in test_faults.
COPY_STEPS = [('storage.create_snapshot', 0), ('storage.protect_snapshot', 0),
              ('storage.clone', 0), ('storage.flatten', 0), ('storage.create_snapshot', 1),
              ('storage.protect_snapshot', 1), ('storage.remove_snapshot', 0)]
# Provision's storage calls: the clone, and backing_store once the clone exists.
# Importing an (unprotected) snapshot of the source takes no snapshot of it but
# protects it for the clone and unprotects it at the end.
SNAPSHOT_IMPORT_STEPS = [('storage.protect_snapshot', 0), ('storage.clone', 0),
                         ('storage.flatten', 0), ('storage.create_snapshot', 0),
                         ('storage.protect_snapshot', 1), ('storage.unprotect_snapshot', 0)]
PROVISION_STEPS = ['storage.clone', 'storage.backing_store']
DELETE_STEPS = ['storage.unprotect_snapshot', 'storage.remove_snapshot',
                'storage.remove_image']


def server_conf(cluster, storage='ceph'):
    uid = 'c%s' % uuid.uuid4().hex[:8]
    return {'DEFAULT': {'uid': uid},
            'drivers': {'storage': storage},
            'ceph': {'pool': cluster.pool, 'conffile': cluster.conffile,
                     'user': cluster.user, 'keyring': cluster.keyring,
                     'connect_timeout': TIMEOUT, 'operation_timeout': TIMEOUT}}


def make_server(cluster, storage, state_path):
    """A ServerFixture (not yet set up) whose faulty driver wraps ceph."""
    # The faulty driver picks its inner driver when the server loads it.
    faulty.write_faults(state_path, [], inner={'storage': 'ceph'})
    fixture = server_mod.ServerFixture(conf=server_conf(cluster, storage),
                                       state_path=state_path)
    fixture.m2_uid = fixture.extra_conf['DEFAULT']['uid']
    return fixture


_SERVERS = {}


def shared_server(cluster, storage):
    """One server per process and storage driver on the shared cluster."""
    if storage not in _SERVERS:
        state_path = tempfile.mkdtemp(prefix='m2-ceph-api-')
        atexit.register(shutil.rmtree, state_path, True)
        fixture = make_server(cluster, storage, state_path)
        fixture.setUp()
        atexit.register(fixture.cleanUp)
        _SERVERS[storage] = fixture
    return _SERVERS[storage]


class Pool:
    """The pool as client.m2 sees it, independently of the server."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.client = rbd_client.RBDClient(cluster.conffile, cluster.user, cluster.keyring)

    def close(self):
        self.client.close()

    def _json(self, *args):
        return json.loads(self.cluster.rbd(*(args + ('--format', 'json'))) or 'null')

    def ls(self, prefix=''):
        return sorted(n for n in self._json('ls') if n.startswith(prefix))

    def parent(self, name):
        parent = self._json('info', name).get('parent')
        return (parent['image'], parent['snapshot']) if parent else None

    def snaps(self, name):
        """{snapshot: protected?}"""
        return {s['name']: s['protected'] == 'true' for s in self._json('snap', 'ls', name)}

    def children(self, name, snap=GOLDEN):
        return sorted(c['image'] for c in self._json('children', '%s@%s' % (name, snap)))

    def export(self, name, snap=None):
        spec = name if snap is None else '%s@%s' % (name, snap)
        return self.cluster.rbd('export', '--no-progress', spec, '-')

    def size(self, name):
        return self._json('info', name)['size']

    def create(self, name, data):
        from m2.drivers.storage.rbd_client import rbd
        with self.client.pool(self.cluster.pool, name) as ioctx:
            rbd.RBD().create(ioctx, name, len(data), old_format=False,
                             features=rbd.RBD_FEATURE_LAYERING)
        self.write(name, 0, data)

    def write(self, name, offset, data):
        with self.client.open_image(self.cluster.pool, name) as image:
            image.write(data, offset)
            image.flush()

    def snapshot(self, name, snap, protect=False):
        with self.client.open_image(self.cluster.pool, name) as image:
            image.create_snap(snap)
            if protect:
                image.protect_snap(snap)


def digest(data):
    return hashlib.sha256(data).hexdigest()


class CephAPITest(base.FunctionalTest):
    """A server with ceph storage on the shared cluster; RBD seen through ``self.pool``."""

    storage = 'ceph'
    private_cluster = False

    def setUp(self):
        # Not FunctionalTest.setUp: the server's config needs the cluster first.
        super(base.FunctionalTest, self).setUp()
        fixture = self.useFixture(ceph_component.CephFixture(private=self.private_cluster))
        self.cluster = fixture.cluster
        self.pool = Pool(self.cluster)
        self.addCleanup(self.pool.close)
        # Images the test makes outside m2 (sources, exports) start with this.
        self.prefix = 'x%s' % uuid.uuid4().hex[:10]
        self.addCleanup(self.cluster.purge, self.prefix)
        if self.private_cluster:
            state_path = self.useFixture(fixtures.TempDir()).path
            self.server = self.useFixture(make_server(self.cluster, self.storage, state_path))
        else:
            self.server = shared_server(self.cluster, self.storage)
        self.uid = self.server.m2_uid

    def own(self):
        """m2's storage images of this server."""
        return self.pool.ls(self.uid)

    def source(self, suffix='src', size=4 * MiB):
        name = '%s%s' % (self.prefix, suffix)
        data = os.urandom(size)
        self.pool.create(name, data)
        return name, data

    def import_from(self, project, source, snapshot=None, name=None, wait=True):
        body = {'name': name or base.unique('img'), 'project': project, 'source': source}
        if snapshot:
            body['source_snapshot'] = snapshot
        image = self.api('POST', '/v1/images', body, expect=202)
        self.assertEqual('importing', image['status'])
        if wait:
            image = self.server.wait_stable('images', image['id'])
        return image

    def assert_golden(self, image, data):
        """An active image whose storage is independent, protected and has ``data``."""
        self.assertEqual('active', image['status'], image)
        self.assertEqual(len(data), image['size'])
        name = image['storage_name']
        self.assertTrue(name.startswith(self.uid + 'img'), name)
        self.assertIsNone(self.pool.parent(name))          # flattened
        self.assertEqual({GOLDEN: True}, self.pool.snaps(name))
        self.assertEqual(digest(data), digest(self.pool.export(name)))
        self.assertEqual(digest(data), digest(self.pool.export(name, GOLDEN)))

    def delete_image(self, image):
        self.api('DELETE', '/v1/images/%s' % image['id'], expect=202)
        self.server.wait_for('/v1/images/%s' % image['id'], gone=True)
        self.assertNotIn(image['storage_name'], self.pool.ls())

    def deprovision(self, node):
        self.api('DELETE', '/v1/nodes/%s' % node['name'], expect=202)
        self.server.wait_for('/v1/nodes/%s' % node['name'], gone=True)
        self.assertNotIn(node['disk'], self.pool.ls())

    def fake_targets(self):
        try:
            with open(os.path.join(self.server.state_path, 'fake-iscsi.json')) as f:
                return json.load(f)['targets']
        except FileNotFoundError:  # no target made yet
            return {}


class TestImages(CephAPITest):

    def test_import_from_image_and_its_snapshots(self):
        project = self.make_project()
        source, data = self.source()
        before = self.own()

        image = self.import_from(project, source)
        self.assert_golden(image, data)
        self.assertEqual(before + [image['storage_name']], self.own())
        # The source is exactly as it was: same bytes, no snapshot left, no children.
        self.assertEqual({}, self.pool.snaps(source))
        self.assertEqual(digest(data), digest(self.pool.export(source)))

        # Snapshots of the source: v1 unprotected, v2 protected; the head moves on.
        self.pool.snapshot(source, 'v1')
        self.pool.write(source, 0, b'AFTER-V1')
        self.pool.snapshot(source, 'v2', protect=True)
        self.pool.write(source, MiB, b'AFTER-V2')
        head = self.pool.export(source)
        v1 = self.import_from(project, source, snapshot='v1')
        self.assert_golden(v1, data)  # v1's bytes, not the head's
        v2 = self.import_from(project, source, snapshot='v2')
        self.assert_golden(v2, b'AFTER-V1' + data[8:])
        # Each snapshot keeps its protection, the head its bytes, and no clone
        # of the source is left behind.
        self.assertEqual({'v1': False, 'v2': True}, self.pool.snaps(source))
        self.assertEqual([], self.pool.children(source, 'v2'))
        self.assertEqual(digest(head), digest(self.pool.export(source)))
        self.assertEqual('%s@v1' % source, v1['source'])

        # A missing source snapshot is refused before anything happens.
        self.api('POST', '/v1/images', {'name': 'x', 'project': project, 'source': source,
                                        'source_snapshot': 'nope'}, expect=404)
        self.api('POST', '/v1/images', {'name': 'x', 'project': project,
                                        'source': self.prefix + 'missing'}, expect=404)
        for img in (image, v1, v2):
            self.delete_image(img)
        self.assertEqual(before, self.own())
        self.assert_audit_clean()

    def test_upload_download_export(self):
        project = self.make_project()
        data = os.urandom(3 * MiB + 123)
        image = self.api('POST', '/v1/images', {'name': 'up', 'project': project}, expect=201)
        self.assertEqual('queued', image['status'])
        self.assertNotIn(image['storage_name'], self.pool.ls())
        response = requests.put(self.server.url + '/v1/images/%s/file' % image['id'],
                                data=data, timeout=60,
                                headers={'Content-Type': 'application/octet-stream'})
        self.assertEqual(202, response.status_code, response.text)
        image = self.server.wait_stable('images', image['id'])
        self.assert_golden(image, data)
        self.assertEqual(len(data), self.pool.size(image['storage_name']))
        self.assertEqual([], os.listdir(os.path.join(self.server.state_path, 'staging')))

        response = requests.get(self.server.url + '/v1/images/%s/file' % image['id'],
                                timeout=60)
        self.assertEqual(200, response.status_code)
        self.assertEqual(digest(data), digest(response.content))

        dest = self.prefix + 'exported'
        self.api('POST', '/v1/images/%s/export' % image['id'], {'storage_name': dest},
                 expect=202)
        image = self.server.wait_stable('images', image['id'])
        self.assertIsNone(image['last_error'])
        # An independent image: no parent, no snapshot, the same bytes.
        self.assertIsNone(self.pool.parent(dest))
        self.assertEqual({}, self.pool.snaps(dest))
        self.assertEqual(digest(data), digest(self.pool.export(dest)))
        self.assertEqual([], self.pool.children(image['storage_name']))
        # Not m2's: deleting the image leaves the export alone.
        self.api('POST', '/v1/images/%s/export' % image['id'], {'storage_name': dest},
                 expect=409)
        self.delete_image(image)
        self.assertEqual(digest(data), digest(self.pool.export(dest)))
        self.assert_audit_clean()

    def test_copy_move_delete(self):
        project, other, third = self.make_project(), self.make_project(), self.make_project()
        source, data = self.source(size=2 * MiB)
        image = self.import_from(project, source, name='shared')
        copy = self.api('POST', '/v1/images/%s/copy' % image['id'], {'project': other},
                        expect=202)
        copy = self.server.wait_stable('images', copy['id'])
        self.assertEqual((other, 'shared'), (copy['project'], copy['name']))
        self.assertNotEqual(image['storage_name'], copy['storage_name'])
        self.assert_golden(copy, data)
        # The original keeps only its golden snapshot (the temporary one is gone) and
        # has no clone left.
        self.assertEqual({GOLDEN: True}, self.pool.snaps(image['storage_name']))
        self.assertEqual([], self.pool.children(image['storage_name']))

        storage_before = self.own()
        moved = self.api('POST', '/v1/images/%s/move' % image['id'], {'project': third},
                         expect=200)
        self.assertEqual((third, image['storage_name']), (moved['project'],
                                                           moved['storage_name']))
        # A move changes the row only.
        self.assertEqual(storage_before, self.own())
        self.assert_golden(self.api('GET', '/v1/images/%s' % image['id'], expect=200), data)

        for img in (image, copy):
            self.delete_image(img)
        self.assertEqual(sorted(set(storage_before) - {image['storage_name'],
                                                       copy['storage_name']}), self.own())
        self.assertEqual({}, self.pool.snaps(source))
        self.assert_audit_clean()


class TestNodes(CephAPITest):

    def test_provision_write_snapshot_deprovision(self):
        project = self.make_project()
        source, data = self.source()
        golden = self.import_from(project, source)
        gold = golden['storage_name']

        first = self.provision(project, golden['id'])
        second = self.provision(project, golden['id'])
        for node in (first, second):
            self.assertEqual('active', node['provision_state'], node)
            self.assertTrue(node['disk'].startswith(self.uid + 'node'), node)
            # A copy-on-write clone of the golden snapshot, exported by its target.
            self.assertEqual((gold, GOLDEN), self.pool.parent(node['disk']))
            self.assertEqual(digest(data), digest(self.pool.export(node['disk'])))
            backing = self.fake_targets()[node['target']['iqn']]['backing_store']
            self.assertEqual(('rbd', self.cluster.pool, node['disk'], self.cluster.user),
                             (backing['type'], backing['pool'], backing['image'],
                              backing['user']))
        self.assertEqual(sorted([first['disk'], second['disk']]), self.pool.children(gold))
        # Provisioning changed nothing in the golden image.
        self.assertEqual({GOLDEN: True}, self.pool.snaps(gold))
        self.assertEqual(digest(data), digest(self.pool.export(gold)))

        # The guest writes into its disk: only its own clone changes.
        self.pool.write(first['disk'], 0, WRITE)
        self.pool.write(first['disk'], 3 * MiB, WRITE)
        written = bytearray(data)
        written[0:len(WRITE)] = WRITE
        written[3 * MiB:3 * MiB + len(WRITE)] = WRITE
        written = bytes(written)
        self.assertEqual(digest(written), digest(self.pool.export(first['disk'])))
        self.assertEqual(digest(data), digest(self.pool.export(gold)))
        self.assertEqual(digest(data), digest(self.pool.export(gold, GOLDEN)))
        self.assertEqual(digest(data), digest(self.pool.export(second['disk'])))

        snap = self.api('POST', '/v1/nodes/%s/snapshot' % first['name'], {'name': 'snap1'},
                        expect=202)
        self.assertEqual('snapshotting', snap['status'])
        snap = self.server.wait_stable('images', snap['id'])
        self.assertEqual(('snapshot', golden['id']), (snap['kind'], snap['parent']))
        self.assert_golden(snap, written)
        # The node's disk keeps no temporary snapshot and is still the golden's clone.
        self.assertEqual({}, self.pool.snaps(first['disk']))
        self.assertEqual((gold, GOLDEN), self.pool.parent(first['disk']))
        self.assertEqual('active', self.api('GET', '/v1/nodes/%s' % first['name'],
                                            expect=200)['provision_state'])

        # A node provisioned from the snapshot sees the first node's write.
        third = self.provision(project, snap['id'])
        self.assertEqual('active', third['provision_state'], third)
        self.assertEqual((snap['storage_name'], GOLDEN), self.pool.parent(third['disk']))
        self.assertEqual(WRITE, self.pool.export(third['disk'])[:len(WRITE)])
        self.assertEqual(digest(written), digest(self.pool.export(third['disk'])))
        self.assertEqual([third['disk']], self.pool.children(snap['storage_name']))

        # Images with clones cannot go; RBD is untouched by the refusal.
        self.api('DELETE', '/v1/images/%s' % golden['id'], expect=409)
        self.api('DELETE', '/v1/images/%s' % snap['id'], expect=409)
        self.assertEqual({GOLDEN: True}, self.pool.snaps(gold))

        for node in (first, second, third):
            self.deprovision(node)
            self.assertNotIn(node['target']['iqn'], self.fake_targets())
        self.assertEqual([], self.pool.children(gold))
        self.assertEqual([], self.pool.children(snap['storage_name']))
        self.assert_audit_clean()
        self.delete_image(snap)
        self.delete_image(golden)
        self.assertNotIn(gold, self.own())
        self.assertEqual(digest(data), digest(self.pool.export(source)))
        self.assert_audit_clean()


class TestStorageFaults(CephAPITest):
    """A failure at each storage step leaves RBD as it was and the audit clean."""

    storage = 'faulty'

    def setUp(self):
        super().setUp()
        self.addCleanup(self.inject, [])

    def inject(self, faults):
        faulty.write_faults(self.server.state_path, faults, inner={'storage': 'ceph'})

    def fail_at(self, call, skip=0):
        self.inject([{'call': call, 'skip': skip, 'times': 1, 'action': 'fail'}])

    def assert_fault(self, call, error):
        self.assertIn('Injected fault at %s' % call, error or '')

    def test_provision(self):
        project = self.make_project()
        source, _ = self.source(size=MiB)
        golden = self.import_from(project, source)
        before = self.own()
        for call in PROVISION_STEPS:
            self.fail_at(call)
            node = self.provision(project, golden['id'])
            self.assertEqual('error', node['provision_state'], (call, node))
            self.assert_fault(call, node['last_error'])
            self.assertEqual(before, self.own(), call)
            self.assertEqual([], self.pool.children(golden['storage_name']), call)
            self.assertEqual({GOLDEN: True}, self.pool.snaps(golden['storage_name']))
            self.assertNotIn(node['target']['iqn'], self.fake_targets())
            self.assert_audit_clean()
            self.deprovision(node)
        self.delete_image(golden)
        self.assert_audit_clean()

    def test_snapshot(self):
        project = self.make_project()
        source, data = self.source(size=MiB)
        golden = self.import_from(project, source)
        node = self.provision(project, golden['id'])
        self.pool.write(node['disk'], 0, WRITE)
        before = self.own()
        for call, skip in COPY_STEPS:
            self.fail_at(call, skip)
            snap = self.api('POST', '/v1/nodes/%s/snapshot' % node['name'],
                            {'name': base.unique('snap')}, expect=202)
            snap = self.server.wait_stable('images', snap['id'])
            self.assertEqual('error', snap['status'], (call, snap))
            self.assert_fault(call, snap['last_error'])
            self.assertEqual(before, self.own(), call)
            self.assertEqual({}, self.pool.snaps(node['disk']), call)
            self.assertEqual((golden['storage_name'], GOLDEN), self.pool.parent(node['disk']))
            self.assertEqual(WRITE, self.pool.export(node['disk'])[:len(WRITE)])
            self.assertEqual('active', self.api('GET', '/v1/nodes/%s' % node['name'],
                                                expect=200)['provision_state'])
            self.assert_audit_clean()
            self.api('DELETE', '/v1/images/%s' % snap['id'], expect=202)
            self.server.wait_for('/v1/images/%s' % snap['id'], gone=True)
        self.deprovision(node)
        self.delete_image(golden)
        self.assert_audit_clean()

    def test_import(self):
        project = self.make_project()
        source, data = self.source(size=MiB)
        self.pool.snapshot(source, 'v1')
        before = self.own()
        for snapshot, steps in ((None, COPY_STEPS), ('v1', SNAPSHOT_IMPORT_STEPS)):
            for call, skip in steps:
                self.fail_at(call, skip)
                image = self.import_from(project, source, snapshot=snapshot)
                self.assertEqual('error', image['status'], (call, snapshot, image))
                self.assert_fault(call, image['last_error'])
                self.assertEqual(before, self.own(), (call, snapshot))
                self.assertEqual({'v1': False}, self.pool.snaps(source), (call, snapshot))
                self.assertEqual([], self.pool.children(source, 'v1'))
                self.assertEqual(digest(data), digest(self.pool.export(source)))
                self.assert_audit_clean()
                self.api('DELETE', '/v1/images/%s' % image['id'], expect=202)
                self.server.wait_for('/v1/images/%s' % image['id'], gone=True)

    def test_delete_image(self):
        project = self.make_project()
        source, data = self.source(size=MiB)
        image = self.import_from(project, source)
        for call in DELETE_STEPS:
            self.fail_at(call)
            self.api('DELETE', '/v1/images/%s' % image['id'], expect=202)
            image = self.server.wait_stable('images', image['id'])
            self.assertEqual('active', image['status'], (call, image))
            self.assert_fault(call, image['last_error'])
            # Restored: the storage image with its protected snapshot, still clonable.
            self.assert_golden(image, data)
            self.assert_audit_clean()
        node = self.provision(project, image['id'])
        self.assertEqual('active', node['provision_state'], node)
        self.deprovision(node)
        self.delete_image(image)
        self.assertEqual({}, self.pool.snaps(source))
        self.assert_audit_clean()


class TestMonitorOutage(CephAPITest):
    """The monitor stops mid-operation: errors say so, 503s, and a clean recovery."""

    private_cluster = True
    storage = 'faulty'  # ceph, with a pause on cue to stop the monitor mid-import

    def setUp(self):
        super().setUp()
        self.addCleanup(self.cluster.start_mon)

    def inject(self, faults):
        faulty.write_faults(self.server.state_path, faults, inner={'storage': 'ceph'})

    def wait_steps(self, path, count, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, body = self.server.request('GET', path)
            if body and body.get('progress') and body['progress']['steps_done'] >= count:
                return body
            time.sleep(0.05)
        self.fail('%s did not reach step %d' % (path, count))

    def test_monitor_stopped_mid_operation(self):
        project = self.make_project()
        source, data = self.source(size=MiB)
        golden = self.import_from(project, source)
        self.assert_golden(golden, data)
        before = self.own()

        # Import pauses before flatten: snapshot, protect and clone are done.
        self.inject([{'call': 'storage.flatten', 'action': 'sleep', 'seconds': 2}])
        image = self.import_from(project, source, wait=False)
        self.wait_steps('/v1/images/%s' % image['id'], 3)
        self.cluster.stop_mon()
        # The rollback needs the cluster too, so it stays pending (progress
        # still shows the task) until the monitor is back.
        image = self.server.wait_for('/v1/images/%s' % image['id'],
                                     lambda i: i['status'] == 'error', timeout=120)
        self.assertIsNotNone(image['progress'], image)
        # Why it failed, and why the rollback could not finish either.
        self.assertRegex(image['last_error'], r'^step (flatten|create_golden_snapshot) '
                                              r'failed: ceph is unreachable: .*; rollback '
                                              r'stopped at step \w+: ceph is unreachable')

        # Synchronous calls that need the cluster answer 503 within the timeout.
        start = time.monotonic()
        reply = self.api('POST', '/v1/images', {'name': 'x', 'project': project,
                                                'source': source}, expect=503)
        self.assertLess(time.monotonic() - start, TIMEOUT + 10)
        self.assertIn('ceph is unreachable', reply['error']['message'])
        self.assertEqual(503, reply['error']['code'])
        # A provision is accepted and ends in error, saying why.
        node = self.provision(project, golden['id'], wait=False)
        node = self.server.wait_for('/v1/nodes/%s' % node['name'],
                                    lambda n: n['provision_state'] == 'error', timeout=120)
        self.assertRegex(node['last_error'], r'^step clone_disk failed: ceph is unreachable')

        self.cluster.start_mon()
        # The rollbacks could not finish either (undoing needs the cluster too);
        # their journals account for what they left. Once the monitor is back,
        # the audit with fix finishes them (as the periodic task would).
        report = self.api('GET', '/v1/audit', expect=200)
        self.assertEqual([], report['storage']['orphans'])
        self.assertEqual(2, len(report['rollbacks_pending']), report)
        report = self.api('POST', '/v1/audit', {'fix': True}, expect=200)
        self.assertTrue(report['clean'], report)
        self.assertEqual([], report['errors'])
        self.assertIsNone(self.api('GET', '/v1/images/%s' % image['id'],
                                   expect=200)['progress'])
        self.assertEqual(before, self.own())
        self.assertEqual({}, self.pool.snaps(source))
        self.assertEqual([], self.pool.children(golden['storage_name']))
        self.assertEqual(digest(data), digest(self.pool.export(source)))
        self.assert_golden(self.api('GET', '/v1/images/%s' % golden['id'], expect=200), data)
        # The failed import's row goes without complaint (nothing left to remove).
        self.delete_image(image)
        # And everything works again: the failed node and import are retried.
        node = self.provision(project, golden['id'], name=node['name'])
        self.assertEqual('active', node['provision_state'], node)
        self.assertEqual((golden['storage_name'], GOLDEN), self.pool.parent(node['disk']))
        retry = self.import_from(project, source)
        self.assert_golden(retry, data)
        self.assert_audit_clean()
