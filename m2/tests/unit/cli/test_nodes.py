"""``m2 node``, ``m2 snapshot``, ``m2 target list``, ``m2 conductor list`` and
``m2 audit``, live."""

import fixtures

from m2.common import exception
from m2.conductor import naming
from m2.tests.unit.cli import base


class TestNodes(base.CLITestCase):
    with_server = True

    def setUp(self):
        super().setUp()
        self.ok('project', 'create', 'p1')
        self.source_image('src')
        self.ok('image', 'import', 'img1', '--source', 'src', '--project', 'p1')
        self.drivers = self.api.manager.drivers

    def provision(self, name='n1', *extra):
        return self.ok('node', 'provision', name, '--image', 'img1', '--nic', 'eth0',
                       '--project', 'p1', '-f', 'json', *extra)

    def test_provision_show_list_deprovision(self):
        result = self.provision('n1', '--mac', '52:54:00:aa:bb:cc')
        node = result.json()
        self.assertEqual('active', node['provision_state'])
        self.assertEqual('52:54:00:aa:bb:cc', node['mac'])
        self.assertEqual('img1', node['image_name'])
        self.assertEqual(1, node['target']['lun'])
        self.assertIn('provisioning node n1: clone_disk (0/', result.stderr)
        self.assertEqual([node['target']['iqn']],
                         [t['iqn'] for t in self.drivers['iscsi'].list_targets()])

        shown = self.ok('node', 'show', 'n1', '-f', 'json').json()
        self.assertEqual(node['id'], shown['id'])
        table = self.ok('node', 'show', 'n1').stdout
        self.assertIn('iqn=' + node['target']['iqn'], table)
        listed = self.ok('node', 'list', '-f', 'json').json()
        self.assertEqual([{'Name': 'n1', 'Project': 'p1', 'Image': 'img1', 'NIC': 'eth0',
                           'MAC': '52:54:00:aa:bb:cc', 'Provision State': 'active'}], listed)
        self.assertEqual(1, len(self.ok('node', 'list', '--all-projects', '-f',
                                        'json').json()))
        self.assertEqual(1, len(self.ok('node', 'list', '--project', 'p1', '-f',
                                        'json').json()))

        result = self.ok('node', 'deprovision', 'n1')
        self.assertIn('deprovisioning node n1: ', result.stderr)
        self.assertIn('Deprovisioned node n1', result.stderr)
        self.fails('node', 'show', 'n1', line='Error (404): Node n1 could not be found.')
        self.assertEqual([], self.drivers['iscsi'].list_targets())

    def test_provision_no_wait(self):
        node = self.provision('n1', '--no-wait').json()
        self.assertEqual('provisioning', node['provision_state'])
        self.api.manager.wait_idle(10)
        result = self.ok('node', 'deprovision', 'n1', '--no-wait')
        self.assertIn('Deprovisioning node n1', result.stderr)
        self.api.manager.wait_idle(10)
        self.fails('node', 'show', 'n1')

    def test_provision_failure(self):
        self.useFixture(fixtures.MockPatchObject(
            self.drivers['iscsi'], 'create_target',
            side_effect=exception.BackendError(backend='tgt', reason='no luck')))
        result = self.fails('node', 'provision', 'n1', '--image', 'img1', '--nic', 'eth0',
                            '--project', 'p1')
        self.assertIn('Node n1: provision failed (error): tgt failed: no luck',
                      result.stderr.splitlines()[-1])

    def test_provision_errors_are_one_line(self):
        self.fails('node', 'provision', 'n1', '--image', 'ghost', '--nic', 'eth0',
                   '--project', 'p1', line='Error (404): Image ghost could not be found.')
        result = self.fails('node', 'provision', 'n1', '--image', 'img1', '--nic', 'eth0',
                            '--mac', 'zz', '--project', 'p1')
        self.assertTrue(result.stderr.startswith('Error (400): '), result)
        self.provision('n1')
        result = self.fails('node', 'provision', 'n1', '--image', 'img1', '--nic', 'eth0',
                            '--project', 'p1')
        self.assertTrue(result.stderr.startswith('Error (409): '), result)
        # An image a node depends on cannot be deleted.
        result = self.fails('image', 'delete', 'img1')
        self.assertIn('Error (409): ', result.stderr)

    def test_snapshot_list_delete(self):
        self.provision('n1')
        result = self.ok('node', 'snapshot', 'n1', 'snap1', '-f', 'json')
        snap = result.json()
        self.assertEqual(('snapshot', 'active'), (snap['kind'], snap['status']))
        self.assertIn('snapshotting image snap1: ', result.stderr)
        self.assertEqual('active', self.ok('node', 'show', 'n1', '-f', 'value', '-c',
                                           'provision_state').stdout.strip())
        snaps = self.ok('snapshot', 'list', '-f', 'json').json()
        self.assertEqual([('snap1', snap['parent'])], [(s['Name'], s['Parent'])
                                                       for s in snaps])
        self.assertEqual(['img1'], [i['Name'] for i in self.ok(
            'image', 'list', '--kind', 'golden', '-f', 'json').json()])
        result = self.ok('snapshot', 'delete', 'snap1')
        self.assertIn('Deleted snapshot snap1', result.stderr)
        self.assertEqual([], self.ok('snapshot', 'list', '-f', 'json').json())
        self.assertFalse(self.drivers['storage'].image_exists(snap['storage_name']))

    def test_snapshot_unknown_node(self):
        self.fails('node', 'snapshot', 'ghost', 's1',
                   line='Error (404): Node ghost could not be found.')

    def test_node_ip(self):
        node = self.provision('n1').json()
        leases = self.state_path + '/dnsmasq.leases'
        self.config(dhcp_leases_file=leases, group='boot')
        with open(leases, 'w') as f:
            f.write('0 %s 10.0.0.7 n1 *\n' % node['mac'])
        result = self.ok('node', 'ip', 'n1', '-f', 'json').json()
        self.assertEqual({'node': 'n1', 'mac': node['mac'], 'ip': '10.0.0.7'}, result)
        self.assertEqual('10.0.0.7\n', self.ok('node', 'ip', 'n1', '-f', 'value', '-c',
                                               'ip').stdout)

    def test_target_list(self):
        node = self.provision('n1').json()
        targets = self.ok('target', 'list', '-f', 'json').json()
        self.assertEqual(1, len(targets))
        self.assertEqual((node['target']['iqn'], 'n1', 'p1'),
                         (targets[0]['IQN'], targets[0]['Node'], targets[0]['Project']))
        self.assertEqual([node['initiator_iqn']], targets[0]['Initiators'])

    def test_conductor_list(self):
        self.api.manager.db.register_conductor('gone')
        self.api.manager.db.unregister_conductor('gone')
        listed = self.ok('conductor', 'list', '-f', 'json').json()
        self.assertEqual([('cli-test', True, True), ('gone', False, False)],
                         [(c['Hostname'], c['Alive'], c['Online']) for c in listed])
        self.assertTrue(listed[0]['Last heartbeat'].endswith('Z'))

    def test_audit_clean_then_orphan_then_fix(self):
        self.provision('n1')
        result = self.ok('audit', '-f', 'json')
        self.assertTrue(result.json()['clean'])
        self.assertRegex(self.ok('audit').stdout, r'\| clean +\| True')

        orphan = naming.target_iqn(999, 'ghost')
        self.drivers['iscsi'].create_target(
            orphan, self.drivers['storage'].backing_store('src'),
            naming.initiator_iqn(999, 'ghost'))
        result = self.m2('audit', '-f', 'json')
        self.assertEqual(1, result.code, result)
        report = result.json()
        self.assertFalse(report['clean'])
        self.assertEqual([orphan], report['targets']['orphans'])

        fixed = self.ok('audit', '--fix', '-f', 'json').json()
        self.assertTrue(fixed['clean'])
        self.assertEqual(['delete target %s' % orphan], fixed['fixed'])
        self.ok('audit')
