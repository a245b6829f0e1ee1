"""Every operation and error path through a real m2-server on the embedded default."""

import json
import os
import shutil
import subprocess
import tempfile
import threading

import requests

from m2.tests.functional import base


class TestRoot(base.FunctionalTest):
    def test_version_document(self):
        body = self.api('GET', '/', expect=200)
        self.assertEqual('v1', body['default_version']['id'])
        body = self.api('GET', '/v1', expect=200)
        self.assertIn('images', body['resources'])

    def test_unknown_route_is_json_404(self):
        body = self.api('GET', '/v1/nothing-here', expect=404)
        self.assertEqual(404, body['error']['code'])

    def test_wrong_method_is_json_405(self):
        body = self.api('PATCH', '/v1/images', expect=405)
        self.assertEqual(405, body['error']['code'])
        self.api('GET', '/v1/nodes/x/snapshot', expect=405)

    def test_malformed_json_is_400(self):
        response = requests.post(self.server.url + '/v1/projects', data='{"name": ',
                                 headers={'Content-Type': 'application/json'}, timeout=10)
        self.assertEqual(400, response.status_code)
        self.assertIn('JSON', response.json()['error']['message'])


class TestProjects(base.FunctionalTest):
    def test_lifecycle(self):
        name = self.make_project(isolator_project='hil-proj')
        body = self.api('GET', '/v1/projects/%s' % name, expect=200)
        self.assertEqual('hil-proj', body['isolator_project'])
        self.assertEqual('net-' + name, body['provisioning_network'])
        names = [p['name'] for p in self.api('GET', '/v1/projects', expect=200)['projects']]
        self.assertIn(name, names)
        self.api('DELETE', '/v1/projects/%s' % name, expect=204)
        self.api('GET', '/v1/projects/%s' % name, expect=404)

    def test_duplicate_is_409(self):
        name = self.make_project()
        body = self.api('POST', '/v1/projects', {'name': name}, expect=409)
        self.assertIn(name, body['error']['message'])

    def test_bad_names_are_400_and_change_nothing(self):
        before = self.api('GET', '/v1/projects', expect=200)
        for bad in ('a/b', '../etc', 'a..b', 'x\x00y', 'tab\there', 'x' * 64, '', '.hidden',
                    '-dash'):
            body = self.api('POST', '/v1/projects', {'name': bad}, expect=400)
            self.assertIn('name', body['error']['message'])
        self.api('POST', '/v1/projects', {'name': 'ok', 'bogus': 1}, expect=400)
        self.api('POST', '/v1/projects', ['not', 'an', 'object'], expect=400)
        self.assertEqual(before, self.api('GET', '/v1/projects', expect=200))

    def test_delete_with_images_is_409(self):
        project = self.make_project()
        self.import_image(project)
        body = self.api('DELETE', '/v1/projects/%s' % project, expect=409)
        self.assertIn('image', body['error']['message'])


class TestImages(base.FunctionalTest):
    def test_import(self):
        project = self.make_project()
        image, source, data = self.import_image(project)
        self.assertEqual('active', image['status'])
        self.assertEqual('golden', image['kind'])
        self.assertEqual(len(data), image['size'])
        storage = image['storage_name']
        with open(self.storage_path(storage), 'rb') as f:
            self.assertEqual(data, f.read())
        self.assertTrue(os.path.exists(self.storage_path(storage + '@m2golden')))
        # The source is untouched and keeps no temporary snapshot.
        with open(self.storage_path(source), 'rb') as f:
            self.assertEqual(data, f.read())
        self.assertEqual([], [n for n in self.storage_names() if n.startswith(source + '@')])
        listed = self.api('GET', '/v1/images?project=%s' % project, expect=200)['images']
        self.assertEqual([image['id']], [i['id'] for i in listed])
        self.assertEqual(image['id'], self.api('GET', '/v1/images/%s?project=%s' % (
            image['name'], project), expect=200)['id'])

    def test_import_from_source_snapshot(self):
        project = self.make_project()
        source, data = self.source_image()
        shutil.copy(self.storage_path(source), self.storage_path(source + '@v1'))
        image = self.api('POST', '/v1/images', {'name': 'fromsnap', 'project': project,
                                                'source': source, 'source_snapshot': 'v1'},
                         expect=202)
        image = self.server.wait_stable('images', image['id'])
        self.assertEqual('active', image['status'], image)
        self.api('POST', '/v1/images', {'name': 'x', 'project': project, 'source': source,
                                        'source_snapshot': 'nope'}, expect=404)

    def test_import_errors_change_nothing(self):
        project = self.make_project()
        image, source, _ = self.import_image(project, name='taken')
        before = (self.storage_names(), self.api('GET', '/v1/images', expect=200))
        cases = [
            ({'name': 'a', 'project': project, 'source': 'no-such-source'}, 404),
            ({'name': 'a', 'project': 'no-such-project', 'source': source}, 404),
            ({'name': '../../etc/passwd', 'project': project, 'source': source}, 400),
            ({'name': 'a', 'project': project, 'source': '../escape'}, 400),
            ({'name': 'a', 'project': project, 'source': 'a/b'}, 400),
            ({'name': 'taken', 'project': project, 'source': source}, 409),
            ({'name': 'a', 'project': project, 'source': image['storage_name']}, 400),
            ({'project': project, 'source': source}, 400),
        ]
        for body, status in cases:
            reply = self.api('POST', '/v1/images', body, expect=status)
            self.assertTrue(reply['error']['message'])
        self.assertEqual(before, (self.storage_names(),
                                  self.api('GET', '/v1/images', expect=200)))

    def test_upload_and_download_raw(self):
        project = self.make_project()
        data = os.urandom(3 * 1024 * 1024 + 123)
        image = self.api('POST', '/v1/images', {'name': 'up', 'project': project}, expect=201)
        self.assertEqual('queued', image['status'])
        response = requests.put(self.server.url + '/v1/images/%s/file' % image['id'],
                                data=data, timeout=30,
                                headers={'Content-Type': 'application/octet-stream'})
        self.assertEqual(202, response.status_code, response.text)
        image = self.server.wait_stable('images', image['id'])
        self.assertEqual('active', image['status'], image)
        self.assertEqual(len(data), image['size'])
        response = requests.get(self.server.url + '/v1/images/%s/file' % image['id'],
                                timeout=30)
        self.assertEqual(200, response.status_code)
        self.assertEqual(str(len(data)), response.headers.get('Content-Length'))
        self.assertEqual(data, response.content)
        # The staging area is emptied.
        staging = os.path.join(self.server.state_path, 'staging')
        self.assertEqual([], os.listdir(staging))
        # An active image takes no second upload.
        response = requests.put(self.server.url + '/v1/images/%s/file' % image['id'],
                                data=b'x', timeout=30)
        self.assertEqual(409, response.status_code)

    def test_upload_qcow2_is_converted(self):
        if not shutil.which('qemu-img'):
            self.skipTest('qemu-img is not installed (qemu-utils): qcow2 upload untested')
        project = self.make_project()
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        raw = os.path.join(tmp, 'disk.raw')
        data = os.urandom(1024 * 1024)
        with open(raw, 'wb') as f:
            f.write(data + b'\0' * (1024 * 1024))
        qcow2 = os.path.join(tmp, 'disk.qcow2')
        subprocess.run(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2],
                       check=True)
        image = self.api('POST', '/v1/images', {'name': 'q', 'project': project}, expect=201)
        with open(qcow2, 'rb') as f:
            response = requests.put(self.server.url + '/v1/images/%s/file' % image['id'],
                                    data=f, timeout=30)
        self.assertEqual(202, response.status_code, response.text)
        image = self.server.wait_stable('images', image['id'])
        self.assertEqual('active', image['status'], image)
        with open(self.storage_path(image['storage_name']), 'rb') as f:
            self.assertEqual(data + b'\0' * (1024 * 1024), f.read())

    def test_upload_qcow2_with_backing_file_is_refused(self):
        if not shutil.which('qemu-img'):
            self.skipTest('qemu-img is not installed (qemu-utils): qcow2 upload untested')
        project = self.make_project()
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        qcow2 = os.path.join(tmp, 'evil.qcow2')
        subprocess.run(['qemu-img', 'create', '-f', 'qcow2', '-F', 'raw', '-b', '/etc/hostname',
                        qcow2], check=True, capture_output=True)
        image = self.api('POST', '/v1/images', {'name': 'evil', 'project': project},
                         expect=201)
        with open(qcow2, 'rb') as f:
            response = requests.put(self.server.url + '/v1/images/%s/file' % image['id'],
                                    data=f, timeout=30)
        self.assertEqual(202, response.status_code)
        image = self.server.wait_stable('images', image['id'])
        self.assertEqual('error', image['status'])
        self.assertIn('backing file', image['last_error'])
        self.assertNotIn(image['storage_name'], self.storage_names())

    def test_upload_qcow2_with_external_data_file_is_refused(self):
        if not shutil.which('qemu-img'):
            self.skipTest('qemu-img is not installed (qemu-utils): qcow2 upload untested')
        project = self.make_project()
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        secret = os.path.join(tmp, 'host-secret')
        with open(secret, 'wb') as f:
            f.write(b'HOST-SECRET' * 1000)
        qcow2 = os.path.join(tmp, 'evil.qcow2')
        subprocess.run(['qemu-img', 'create', '-f', 'qcow2', '-o',
                        'data_file=%s,data_file_raw=on' % secret, qcow2, '64K'],
                       check=True, capture_output=True)
        image = self.api('POST', '/v1/images', {'name': 'evil-data', 'project': project},
                         expect=201)
        with open(qcow2, 'rb') as f:
            response = requests.put(self.server.url + '/v1/images/%s/file' % image['id'],
                                    data=f, timeout=30)
        self.assertEqual(202, response.status_code)
        image = self.server.wait_stable('images', image['id'])
        self.assertEqual('error', image['status'])
        self.assertIn('external data file', image['last_error'])
        self.assertNotIn(image['storage_name'], self.storage_names())

    def test_export(self):
        project = self.make_project()
        image, _, data = self.import_image(project)
        target = base.unique('exported')
        self.api('POST', '/v1/images/%s/export' % image['id'], {'storage_name': target},
                 expect=202)
        image = self.server.wait_stable('images', image['id'])
        self.assertIsNone(image['last_error'])
        with open(self.storage_path(target), 'rb') as f:
            self.assertEqual(data, f.read())
        self.api('POST', '/v1/images/%s/export' % image['id'], {'storage_name': target},
                 expect=409)
        self.api('POST', '/v1/images/%s/export' % image['id'], {'storage_name': '../x'},
                 expect=400)
        self.api('POST', '/v1/images/%s/export' % image['id'],
                 {'storage_name': 'm2img12345'}, expect=400)

    def test_copy_and_move(self):
        project, other = self.make_project(), self.make_project()
        image, _, data = self.import_image(project, name='shared')
        copy = self.api('POST', '/v1/images/%s/copy' % image['id'], {'project': other},
                        expect=202)
        copy = self.server.wait_stable('images', copy['id'])
        self.assertEqual(('active', other, 'shared'),
                         (copy['status'], copy['project'], copy['name']))
        self.assertNotEqual(image['storage_name'], copy['storage_name'])
        with open(self.storage_path(copy['storage_name']), 'rb') as f:
            self.assertEqual(data, f.read())
        # Moving the original where a same-named image exists conflicts.
        self.api('POST', '/v1/images/%s/move' % image['id'], {'project': other}, expect=409)
        third = self.make_project()
        moved = self.api('POST', '/v1/images/%s/move' % image['id'], {'project': third},
                         expect=200)
        self.assertEqual(third, moved['project'])
        self.api('POST', '/v1/images/%s/copy' % image['id'], {'project': 'nope'}, expect=404)

    def test_delete(self):
        project = self.make_project()
        image, _, _ = self.import_image(project)
        self.api('DELETE', '/v1/images/%s' % image['id'], expect=202)
        self.server.wait_for('/v1/images/%s' % image['id'], gone=True)
        self.assertNotIn(image['storage_name'], self.storage_names())
        self.assertNotIn(image['storage_name'] + '@m2golden', self.storage_names())
        self.api('DELETE', '/v1/images/%s' % image['id'], expect=404)

    def test_unknown_and_invalid_queries(self):
        self.api('GET', '/v1/images/00000000-0000-0000-0000-000000000000', expect=404)
        self.api('GET', '/v1/images/no-such', expect=404)
        self.api('GET', '/v1/images?kind=weird', expect=400)
        self.api('GET', '/v1/images?all_projects=maybe', expect=400)


class TestNodes(base.FunctionalTest):
    def fake_state(self, name):
        with open(os.path.join(self.server.state_path, 'fake-%s.json' % name)) as f:
            return json.load(f)

    def boot_files(self):
        root = os.path.join(self.server.state_path, 'tftpboot', 'm2')
        return sorted(os.listdir(root)) if os.path.isdir(root) else []

    def test_provision_snapshot_deprovision(self):
        project = self.make_project()
        image, _, data = self.import_image(project)
        node = self.provision(project, image['id'], mac='52:54:00:AA:BB:01')
        name = node['name']
        self.assertEqual('active', node['provision_state'], node)
        self.assertEqual('52:54:00:aa:bb:01', node['mac'])
        # The disk is a clone with the image's bytes.
        with open(self.storage_path(node['disk']), 'rb') as f:
            self.assertEqual(data, f.read())
        # A target exports it to this node's initiator only, at LUN 1.
        targets = self.fake_state('iscsi')['targets']
        target = targets[node['target']['iqn']]
        self.assertEqual([node['initiator_iqn']], target['initiators'])
        self.assertEqual(1, node['target']['lun'])
        listed = self.api('GET', '/v1/targets', expect=200)['targets']
        self.assertIn(name, [t['node'] for t in listed])
        # Its boot script sanboots that target.
        self.assertIn('52-54-00-aa-bb-01.ipxe', self.boot_files())
        with open(os.path.join(self.server.state_path, 'tftpboot', 'm2',
                               '52-54-00-aa-bb-01.ipxe')) as f:
            script = f.read()
        self.assertIn(node['target']['iqn'], script)
        self.assertIn(node['initiator_iqn'], script)
        # The node is on its project's network and was power-cycled.
        isolator = json.dumps(self.fake_state('isolator'))
        self.assertIn('net-' + project, isolator)

        # The guest writes into its disk; the golden image is unchanged.
        with open(self.storage_path(node['disk']), 'r+b') as f:
            f.write(b'GUEST-WROTE-THIS')
        with open(self.storage_path(image['storage_name']), 'rb') as f:
            self.assertEqual(data, f.read())

        snap = self.api('POST', '/v1/nodes/%s/snapshot' % name, {'name': 'snap1'},
                        expect=202)
        self.assertEqual('snapshotting', snap['status'])
        snap = self.server.wait_stable('images', snap['id'])
        self.assertEqual(('active', 'snapshot', image['id']),
                         (snap['status'], snap['kind'], snap['parent']))
        self.assertEqual('active', self.api('GET', '/v1/nodes/%s' % name,
                                            expect=200)['provision_state'])
        listed = self.api('GET', '/v1/images?kind=snapshot&project=%s' % project,
                          expect=200)['images']
        self.assertEqual([snap['id']], [i['id'] for i in listed])

        # A second node from the snapshot sees the first node's write.
        second = self.provision(project, snap['id'])
        with open(self.storage_path(second['disk']), 'rb') as f:
            self.assertEqual(b'GUEST-WROTE-THIS', f.read(16))

        # Images in use cannot go.
        body = self.api('DELETE', '/v1/images/%s' % image['id'], expect=409)
        self.assertIn(name, body['error']['message'])
        self.api('DELETE', '/v1/images/%s' % snap['id'], expect=409)

        for node_name in (name, second['name']):
            self.api('DELETE', '/v1/nodes/%s' % node_name, expect=202)
            self.server.wait_for('/v1/nodes/%s' % node_name, gone=True)
        self.assertNotIn(node['disk'], self.storage_names())
        self.assertNotIn(node['target']['iqn'], self.fake_state('iscsi')['targets'])
        self.assertNotIn('52-54-00-aa-bb-01.ipxe', self.boot_files())
        for img in (snap, image):
            self.api('DELETE', '/v1/images/%s' % img['id'], expect=202)
            self.server.wait_for('/v1/images/%s' % img['id'], gone=True)
            self.assertNotIn(img['storage_name'], self.storage_names())
        self.assert_audit_clean()

    def test_provision_errors_change_nothing(self):
        project = self.make_project()
        image, _, _ = self.import_image(project)
        node = self.provision(project, image['id'], name=base.unique('busy'))
        before = (self.storage_names(), self.api('GET', '/v1/nodes', expect=200))
        cases = [
            ({'name': 'n1', 'project': project, 'image': 'no-such-image', 'nic': 'e'}, 404),
            ({'name': 'n1', 'project': 'no-such', 'image': image['id'], 'nic': 'e'}, 404),
            ({'name': 'n1', 'project': project, 'image': image['id'], 'nic': 'e',
              'mac': 'zz:zz:zz:zz:zz:zz'}, 400),
            ({'name': 'n1', 'project': project, 'image': image['id'], 'nic': 'e',
              'mac': '52:54:00:12:34'}, 400),
            ({'name': '../../tftpboot/x', 'project': project, 'image': image['id'],
              'nic': 'e'}, 400),
            ({'name': 'n1', 'project': project, 'image': image['id'], 'nic': '../x'}, 400),
            ({'name': 'n1', 'project': project, 'image': image['id']}, 400),
            ({'name': node['name'], 'project': project, 'image': image['id'], 'nic': 'e'},
             409),
        ]
        for body, status in cases:
            reply = self.api('POST', '/v1/nodes', body, expect=status)
            self.assertTrue(reply['error']['message'])
        self.assertEqual(before, (self.storage_names(),
                                  self.api('GET', '/v1/nodes', expect=200)))
        self.api('GET', '/v1/nodes/no-such-node', expect=404)
        self.api('DELETE', '/v1/nodes/no-such-node', expect=404)
        self.api('POST', '/v1/nodes/no-such-node/snapshot', {'name': 's'}, expect=404)
        self.api('POST', '/v1/nodes/%s/snapshot' % node['name'], {'name': 'a/b'}, expect=400)

    def test_concurrent_provisions_of_one_node(self):
        project = self.make_project()
        image, _, _ = self.import_image(project)
        name = base.unique('race')
        body = {'name': name, 'project': project, 'image': image['id'], 'nic': 'eno1'}
        statuses = []
        barrier = threading.Barrier(2)

        def provision():
            barrier.wait()
            statuses.append(self.server.request('POST', '/v1/nodes', body)[0])

        threads = [threading.Thread(target=provision) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([202, 409], sorted(statuses))
        node = self.server.wait_stable('nodes', name)
        self.assertEqual('active', node['provision_state'])
        self.api('DELETE', '/v1/nodes/%s' % name, expect=202)
        self.server.wait_for('/v1/nodes/%s' % name, gone=True)

    def test_node_ip_from_leases(self):
        project = self.make_project()
        image, _, _ = self.import_image(project)
        node = self.provision(project, image['id'], mac='52:54:00:00:00:42')
        self.api('GET', '/v1/nodes/%s/ip' % node['name'], expect=404)
        with open(os.path.join(self.server.state_path, 'leases'), 'w') as f:
            f.write('1700000000 52:54:00:00:00:41 10.0.0.41 other *\n'
                    '1700000000 52:54:00:00:00:42 10.0.0.42 %s *\n' % node['name'])
        body = self.api('GET', '/v1/nodes/%s/ip' % node['name'], expect=200)
        self.assertEqual('10.0.0.42', body['ip'])


class TestAudit(base.FunctionalTest):
    # Its own server: the audit looks at everything.
    server_key = 'audit'

    def test_finds_and_fixes_orphans(self):
        self.assert_audit_clean()
        project = self.make_project()
        image, _, _ = self.import_image(project)
        node = self.provision(project, image['id'])
        # Leak a storage image, a temporary snapshot and boot files; lose a target.
        shutil.copy(self.storage_path(image['storage_name']), self.storage_path('m2img9999'))
        shutil.copy(self.storage_path(image['storage_name']),
                    self.storage_path(image['storage_name'] + '@m2tmp-img9999'))
        stray = os.path.join(self.server.state_path, 'tftpboot', 'm2', '52-54-00-de-ad-01.ipxe')
        shutil.copy(os.path.join(self.server.state_path, 'tftpboot', 'm2',
                                 node['mac'].replace(':', '-') + '.ipxe'), stray)
        state_file = os.path.join(self.server.state_path, 'fake-iscsi.json')
        with open(state_file) as f:
            state = json.load(f)
        state['targets'].pop(node['target']['iqn'])
        with open(state_file, 'w') as f:
            json.dump(state, f)

        report = self.api('GET', '/v1/audit', expect=200)
        self.assertFalse(report['clean'])
        self.assertEqual(['m2img9999'], report['storage']['orphans'])
        self.assertEqual(['%s@m2tmp-img9999' % image['storage_name']],
                         report['snapshots']['orphans'])
        self.assertEqual(['52:54:00:de:ad:01'], report['boot_files']['orphans'])
        self.assertEqual([node['target']['iqn']], report['targets']['missing'])

        report = self.api('POST', '/v1/audit', {'fix': True}, expect=200)
        self.assertTrue(report['clean'], report)
        self.assertEqual(4, len(report['fixed']), report)
        self.assertNotIn('m2img9999', self.storage_names())
        with open(state_file) as f:
            self.assertIn(node['target']['iqn'], json.load(f)['targets'])
        self.api('DELETE', '/v1/nodes/%s' % node['name'], expect=202)
        self.server.wait_for('/v1/nodes/%s' % node['name'], gone=True)
        self.assert_audit_clean()


class TestConcurrency(base.FunctionalTest):
    """Many operations at once on the embedded default (SQLite, worker threads)."""

    server_key = 'concurrency'

    def test_parallel_operations_all_finish(self):
        project = self.make_project()
        images = [self.import_image(project, wait=False)[0] for _ in range(4)]
        images = [self.server.wait_stable('images', i['id']) for i in images]
        self.assertEqual(['active'] * 4, [i['status'] for i in images])
        nodes = [self.provision(project, images[n % 2]['id'], wait=False) for n in range(6)]
        nodes = [self.server.wait_stable('nodes', n['name']) for n in nodes]
        self.assertEqual(['active'] * 6, [n['provision_state'] for n in nodes],
                         [n['last_error'] for n in nodes])
        for node in nodes:
            self.api('DELETE', '/v1/nodes/%s' % node['name'], expect=202)
        for image in images:
            self.server.wait_for('/v1/images/%s' % image['id'],
                                 lambda body: True)
        for node in nodes:
            self.server.wait_for('/v1/nodes/%s' % node['name'], gone=True)
        for image in images:
            self.api('DELETE', '/v1/images/%s' % image['id'], expect=202)
        for image in images:
            self.server.wait_for('/v1/images/%s' % image['id'], gone=True)
        self.assert_audit_clean()
