"""``m2 image ...`` and ``m2 snapshot ...`` against a live in-process API."""

import os
import time

import fixtures

from m2.common import exception
from m2.tests.unit.cli import base


def _broken(what):
    return exception.BackendError(backend='storage', reason='%s exploded' % what)


class TestImages(base.CLITestCase):
    with_server = True

    def setUp(self):
        super().setUp()
        self.ok('project', 'create', 'p1')
        self.source_image('src')
        self.storage = self.api.manager.drivers['storage']

    def import_image(self, name='img1', *extra):
        return self.ok('image', 'import', name, '--source', 'src', '--project', 'p1',
                       '-f', 'json', *extra)

    def test_import_waits_with_progress(self):
        result = self.import_image()
        image = result.json()
        self.assertEqual('active', image['status'])
        self.assertEqual('golden', image['kind'])
        self.assertEqual(2 * 1024 * 1024, image['size'])
        self.assertIsNone(image['progress'])
        lines = result.stderr.splitlines()
        self.assertTrue(lines, result)
        self.assertTrue(all(line.startswith('importing image img1: ') for line in lines),
                        result)
        self.assertRegex(lines[0], r'\(\d/\d\)$')
        self.assertTrue(self.storage.image_exists(image['storage_name']))

    def test_quiet_prints_no_progress(self):
        result = self.ok('-q', 'image', 'import', 'img1', '--source', 'src', '--project',
                         'p1', '-f', 'value', '-c', 'status')
        self.assertEqual(('active\n', ''), (result.stdout, result.stderr))
        result = self.ok('-q', 'image', 'delete', 'img1')
        self.assertEqual('', result.stderr)

    def test_import_no_wait_returns_transitional(self):
        image = self.import_image('img1', '--no-wait').json()
        self.assertEqual('importing', image['status'])
        self.api.manager.wait_idle(10)
        shown = self.ok('image', 'show', image['id'], '-f', 'json').json()
        self.assertEqual('active', shown['status'])

    def test_import_failure_exits_1_with_last_error(self):
        self.useFixture(fixtures.MockPatchObject(self.storage, 'flatten',
                                                 side_effect=_broken('flatten')))
        result = self.fails('image', 'import', 'img1', '--source', 'src', '--project', 'p1')
        self.assertIn('Image img1: import failed: storage failed: flatten exploded',
                      result.stderr.splitlines()[-1])
        self.assertEqual('', result.stdout)
        shown = self.ok('image', 'show', 'img1', '-f', 'json').json()
        self.assertEqual('error', shown['status'])

    def test_import_unknown_source_is_404(self):
        result = self.fails('image', 'import', 'img1', '--source', 'nosuch', '--project', 'p1')
        self.assertTrue(result.stderr.startswith('Error (404): '), result)

    def test_wait_times_out(self):
        def slow_clone(*args, **kwargs):
            time.sleep(0.5)
            return original(*args, **kwargs)

        original = self.storage.clone
        self.useFixture(fixtures.MockPatchObject(self.storage, 'clone', slow_clone))
        result = self.fails('image', 'import', 'img1', '--source', 'src', '--project', 'p1',
                            '--timeout', '0')
        self.assertIn('Timed out after 0 s waiting for image', result.stderr)
        self.api.manager.wait_idle(10)

    def test_show_by_name_id_and_project(self):
        image = self.import_image().json()
        by_id = self.ok('image', 'show', image['id'], '-f', 'json').json()
        by_name = self.ok('image', 'show', 'img1', '--project', 'p1', '-f', 'json').json()
        self.assertEqual(image['id'], by_id['id'])
        self.assertEqual(image['id'], by_name['id'])
        table = self.ok('image', 'show', 'img1').stdout
        self.assertIn('| status', table)
        self.fails('image', 'show', 'ghost', line='Error (404): Image ghost could not be found.')

    def test_list_filters(self):
        self.ok('project', 'create', 'p2')
        self.import_image('a')
        self.ok('image', 'import', 'b', '--source', 'src', '--project', 'p2')
        names = [i['Name'] for i in self.ok('image', 'list', '-f', 'json').json()]
        self.assertEqual(['a', 'b'], sorted(names))
        only_p2 = self.ok('image', 'list', '--project', 'p2', '-f', 'json').json()
        self.assertEqual(['b'], [i['Name'] for i in only_p2])
        self.assertEqual(['ID', 'Name', 'Project', 'Kind', 'Status', 'Size', 'Public'],
                         list(only_p2[0]))
        self.assertEqual([], self.ok('image', 'list', '--kind', 'snapshot', '-f',
                                     'json').json())
        everything = self.ok('image', 'list', '--all-projects', '-f', 'value', '-c', 'Name')
        self.assertEqual(['a', 'b'], sorted(everything.stdout.split()))

    def test_upload_and_download_round_trip(self):
        data = os.urandom(3 * 1024 * 1024 + 123)
        path = os.path.join(self.state_path, 'disk.raw')
        with open(path, 'wb') as f:
            f.write(data)
        result = self.ok('image', 'upload', 'up1', '--file', path, '--project', 'p1',
                         '--public', '-f', 'json')
        image = result.json()
        self.assertEqual('active', image['status'])
        self.assertTrue(image['public'])
        self.assertEqual(len(data), image['size'])
        self.assertIn('sending image up1: ', result.stderr)
        self.assertIn('(100%)', result.stderr)

        out = os.path.join(self.state_path, 'out.raw')
        result = self.ok('image', 'download', 'up1', '--file', out)
        self.assertIn('Saved image up1', result.stderr)
        with open(out, 'rb') as f:
            self.assertEqual(data, f.read())
        self.assertFalse(os.path.exists(out + '.part'))

    def test_upload_missing_file(self):
        result = self.fails('image', 'upload', 'up1', '--file', '/nonexistent/x.raw',
                            '--project', 'p1')
        self.assertIn('Cannot read /nonexistent/x.raw', result.stderr)
        self.assertEqual([], self.ok('image', 'list', '-f', 'json').json())

    def test_download_unknown_image(self):
        out = os.path.join(self.state_path, 'out.raw')
        self.fails('image', 'download', 'ghost', '--file', out,
                   line='Error (404): Image ghost could not be found.')
        self.assertFalse(os.path.exists(out))

    def test_export(self):
        self.import_image()
        image = self.ok('image', 'export', 'img1', 'exported', '-f', 'json').json()
        self.assertEqual('active', image['status'])
        self.assertIsNone(image['last_error'])
        self.assertTrue(self.storage.image_exists('exported'))
        result = self.fails('image', 'export', 'img1', 'exported')
        self.assertTrue(result.stderr.startswith('Error (409): '), result)

    def test_export_failure(self):
        self.import_image()
        self.useFixture(fixtures.MockPatchObject(self.storage, 'flatten',
                                                 side_effect=_broken('flatten')))
        result = self.fails('image', 'export', 'img1', 'exported')
        self.assertIn('Image img1: export failed: ', result.stderr)
        self.assertFalse(self.storage.image_exists('exported'))

    def test_copy_and_move(self):
        self.ok('project', 'create', 'p2')
        self.ok('project', 'create', 'p3')
        source = self.import_image().json()
        copy = self.ok('image', 'copy', 'img1', '--project', 'p2', '--name', 'img2',
                       '-f', 'json').json()
        self.assertEqual(('img2', 'p2', 'active', source['id']),
                         (copy['name'], copy['project'], copy['status'], copy['parent']))
        self.assertNotEqual(source['storage_name'], copy['storage_name'])
        self.assertTrue(self.storage.image_exists(copy['storage_name']))

        moved = self.ok('image', 'move', copy['id'], '--project', 'p3', '-f', 'json').json()
        self.assertEqual('p3', moved['project'])
        self.fails('image', 'move', 'img1', '--project', 'ghost',
                   line='Error (404): Project ghost could not be found.')

    def test_delete_waits_until_gone(self):
        image = self.import_image().json()
        result = self.ok('image', 'delete', 'img1')
        self.assertIn('Deleted image img1', result.stderr)
        self.fails('image', 'show', image['id'])
        self.assertFalse(self.storage.image_exists(image['storage_name']))

    def test_delete_no_wait_and_partial_failure(self):
        self.import_image()
        result = self.fails('image', 'delete', 'img1', 'ghost', '--no-wait',
                            line='1 of 2 images could not be deleted')
        self.assertIn('Deleting image img1', result.stderr)
        self.assertIn('Error (404): Image ghost could not be found.', result.stderr)
        self.api.manager.wait_idle(10)
        self.fails('image', 'show', 'img1')

    def test_delete_failure_reports_last_error(self):
        self.import_image()
        self.useFixture(fixtures.MockPatchObject(self.storage, 'remove_snapshot',
                                                 side_effect=_broken('remove')))
        result = self.fails('image', 'delete', 'img1')
        self.assertIn('Image img1: delete failed: storage failed: remove exploded',
                      result.stderr)
        self.assertEqual('active', self.ok('image', 'show', 'img1', '-f', 'value', '-c',
                                           'status').stdout.strip())
