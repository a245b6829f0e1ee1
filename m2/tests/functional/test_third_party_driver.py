"""A driver shipped as its own package is installed, selected in config and used."""

import json
import os
import subprocess
import sys

from m2.tests.functional import base

PACKAGE = os.path.join(os.path.dirname(__file__), 'example_driver')


class TestOutOfTreeDriver(base.FunctionalTest):
    private_server = True
    server_conf = {'drivers': {'storage': 'journaled-file'}}

    def setUp(self):
        pip = [sys.executable, '-m', 'pip']
        result = subprocess.run(pip + ['install', '--quiet', '--no-deps',
                                       '--no-build-isolation', PACKAGE],
                                capture_output=True, text=True)
        if result.returncode:
            self.fail('could not install the example driver package: %s' % result.stderr)
        self.addCleanup(subprocess.run, pip + ['uninstall', '--yes', '--quiet',
                                               'm2-example-driver'], capture_output=True)
        super().setUp()

    def test_provision_through_the_installed_driver(self):
        project = self.make_project()
        image, _, data = self.import_image(project)
        node = self.provision(project, image['id'])
        self.assertEqual('active', node['provision_state'], node)
        with open(self.storage_path(node['disk']), 'rb') as f:
            self.assertEqual(data, f.read())
        self.api('DELETE', '/v1/nodes/%s' % node['name'], expect=202)
        self.server.wait_for('/v1/nodes/%s' % node['name'], gone=True)
        with open(os.path.join(self.server.state_path, 'example-driver-calls.jsonl')) as f:
            calls = [json.loads(line) for line in f]
        self.assertIn(['clone', image['storage_name'], 'm2golden', node['disk']], calls)
        self.assertIn(['remove_image', node['disk']], calls)
