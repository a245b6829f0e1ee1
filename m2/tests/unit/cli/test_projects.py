"""``m2 project ...`` and the error path shared by every command."""

from m2.tests.unit.cli import base


class TestProjects(base.CLITestCase):
    with_server = True

    def test_create_show_list_delete(self):
        created = self.ok(*('project create p1 --provisioning-network net1 '
                          '--isolator-project hilp1 -f json').split()).json()
        self.assertEqual('p1', created['name'])
        self.assertEqual('net1', created['provisioning_network'])
        self.assertEqual('hilp1', created['isolator_project'])

        shown = self.ok('project', 'show', 'p1', '-f', 'json').json()
        self.assertEqual(created['id'], shown['id'])
        listed = self.ok('project', 'list', '-f', 'json').json()
        self.assertEqual(['p1'], [p['Name'] for p in listed])
        value = self.ok('project', 'show', 'p1', '-f', 'value', '-c', 'name')
        self.assertEqual('p1\n', value.stdout)

        result = self.ok('project', 'delete', 'p1')
        self.assertIn('Deleted project p1', result.stderr)
        self.assertEqual([], self.ok('project', 'list', '-f', 'json').json())

    def test_table_output(self):
        self.ok('project', 'create', 'p1')
        table = self.ok('project', 'list').stdout
        self.assertIn('| Name', table)
        self.assertIn('| p1 ', table)

    def test_duplicate_is_409_one_line(self):
        self.ok('project', 'create', 'p1')
        result = self.fails('project', 'create', 'p1')
        self.assertTrue(result.stderr.startswith('Error (409): '), result)
        self.assertEqual(1, len(result.stderr.strip().splitlines()))

    def test_unknown_is_404_one_line(self):
        self.fails('project', 'show', 'nope',
                   line='Error (404): Project nope could not be found.')

    def test_invalid_name_is_400_one_line(self):
        result = self.fails('project', 'create', 'bad/name')
        self.assertTrue(result.stderr.startswith('Error (400): '), result)
        self.assertEqual(1, len(result.stderr.strip().splitlines()))

    def test_delete_reports_each_failure(self):
        self.ok('project', 'create', 'p1')
        result = self.fails('project', 'delete', 'p1', 'ghost',
                            line='1 of 2 projects could not be deleted')
        self.assertIn('Deleted project p1', result.stderr)
        self.assertIn('Error (404): Project ghost could not be found.', result.stderr)
