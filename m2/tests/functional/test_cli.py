"""The ``m2`` console script against a real ``m2-server``: the user guide's scenario.

Both are real processes: the installed ``m2`` entry point (so the commands
registered in setup.cfg are what is tested) talks HTTP to m2-server running
the embedded default (file storage, fake iSCSI and isolator, ipxe boot).
"""

import json
import os
import subprocess

from m2.tests.functional import base
from m2.tests.functional import server as server_mod

M2 = os.path.join(server_mod.BIN, 'm2')


class CLIScenarioTest(base.FunctionalTest):

    def m2(self, *argv, expect=0):
        env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
        env['M2_URL'] = self.server.url
        proc = subprocess.run([M2] + list(argv), env=env, capture_output=True, text=True,
                              timeout=300)
        self.assertEqual(expect, proc.returncode,
                         'm2 %s: %s %s' % (' '.join(argv), proc.stdout, proc.stderr))
        self.assertNotIn('Traceback', proc.stderr)
        return proc

    def json(self, *argv):
        return json.loads(self.m2(*(argv + ('-f', 'json'))).stdout)

    def test_user_guide_scenario(self):
        project, node = base.unique('proj'), base.unique('node')
        source, _ = self.source_image()
        storage = os.path.join(self.server.state_path, 'images')

        self.m2('project', 'create', project)
        proc = self.m2('image', 'import', 'golden', '--source', source, '--project', project,
                       '-f', 'json')
        image = json.loads(proc.stdout)
        self.assertEqual('active', image['status'])
        self.assertIn('importing image golden: ', proc.stderr)

        proc = self.m2('node', 'provision', node, '--image', image['id'], '--nic', 'eth0',
                       '--project', project, '-f', 'json')
        self.assertEqual('active', json.loads(proc.stdout)['provision_state'])
        self.assertIn('provisioning node %s: ' % node, proc.stderr)

        snap = self.json('node', 'snapshot', node, 'snap1')
        self.assertEqual(('snapshot', 'active'), (snap['kind'], snap['status']))
        self.assertTrue(os.path.exists(os.path.join(storage, snap['storage_name'])))
        listed = self.json('snapshot', 'list', '--project', project)
        self.assertEqual(['snap1'], [s['Name'] for s in listed])

        self.m2('snapshot', 'delete', snap['id'])
        self.assertFalse(os.path.exists(os.path.join(storage, snap['storage_name'])))
        # The image is still in use by the node: refused, one line, exit 1.
        proc = self.m2('image', 'delete', image['id'], expect=1)
        self.assertIn('Error (409): ', proc.stderr)

        self.m2('node', 'deprovision', node)
        self.m2('node', 'show', node, expect=1)
        self.m2('image', 'delete', image['id'])
        self.assertFalse(os.path.exists(os.path.join(storage, image['storage_name'])))
        self.assertTrue(os.path.exists(os.path.join(storage, source)))
        self.assertEqual([], self.json('image', 'list', '--project', project))

    def test_upload_download_and_errors(self):
        project = base.unique('proj')
        self.m2('project', 'create', project)
        path = os.path.join(self.server.state_path, base.unique('upload'))
        data = os.urandom(5 * 1024 * 1024 + 7)
        with open(path, 'wb') as f:
            f.write(data)
        image = self.json('image', 'upload', 'up', '--file', path, '--project', project)
        self.assertEqual(('active', len(data)), (image['status'], image['size']))
        out = path + '.out'
        self.m2('image', 'download', image['id'], '--file', out)
        with open(out, 'rb') as f:
            self.assertEqual(data, f.read())

        proc = self.m2('image', 'show', base.unique('ghost'), expect=1)
        self.assertRegex(proc.stderr, r'^Error \(404\): Image ghost-\w+ could not be found\.\n$')
        proc = self.m2('image', 'import', 'x', expect=2)
        self.assertIn('--source', proc.stderr)
        proc = self.m2('--os-endpoint', 'http://127.0.0.1:%d' % server_mod.free_port(),
                       'image', 'list', expect=1)
        self.assertIn('Cannot reach the m2 API at http://127.0.0.1:', proc.stderr)
        self.m2('image', 'delete', image['id'])

    def test_version_and_completion(self):
        self.assertRegex(self.m2('--version').stdout, r'^m2 \S+\n$')
        self.assertIn('cmds_node_provision=', self.m2('complete').stdout)
