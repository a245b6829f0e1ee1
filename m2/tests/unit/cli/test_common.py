"""Output shaping, progress display, streaming bodies and error parsing."""

import io

import fixtures
import testtools

from m2.cli import client, common, image


class TTY(io.StringIO):
    def isatty(self):
        return True


class FakeResponse:
    def __init__(self, status, text, reason='Bad Gateway'):
        self.status_code, self.text, self.reason = status, text, reason

    def json(self):
        import json
        return json.loads(self.text)


class TestProgress(testtools.TestCase):

    def test_pipe_gets_one_line_per_change(self):
        out = io.StringIO()
        progress = common.Progress(out)
        for text in ('a (0/2)', 'a (0/2)', 'a (1/2)'):
            progress.update(text)
        progress.done()
        self.assertEqual('a (0/2)\na (1/2)\n', out.getvalue())

    def test_terminal_redraws_in_place(self):
        out = TTY()
        progress = common.Progress(out)
        progress.update('longer text')
        progress.update('short')
        progress.done()
        self.assertEqual('\rlonger text\rshort      \n', out.getvalue())

    def test_throttle_holds_back_and_flushes_last(self):
        now = [100.0]
        self.useFixture(fixtures.MonkeyPatch('time.monotonic', lambda: now[0]))
        out = io.StringIO()
        progress = common.Progress(out, throttle=1.0)
        progress.update('1')
        progress.update('2')
        progress.update('3')
        now[0] += 1.5
        progress.update('4')
        progress.update('5')
        progress.done()
        self.assertEqual('1\n4\n5\n', out.getvalue())

    def test_progress_text(self):
        node = {'name': 'n1', 'progress': {'task': 'provision', 'steps_done': 2,
                                           'steps_total': 5,
                                           'current_step': 'create_target'}}
        self.assertEqual('provisioning node n1: create_target (2/5)',
                         common.progress_text('node', node, 'provisioning'))
        upload = {'name': 'i', 'progress': {'task': 'upload', 'steps_done': 5,
                                            'steps_total': 5, 'current_step': None,
                                            'bytes_done': 3 * 1024 * 1024}}
        self.assertEqual('uploading image i: finishing (5/5) 3.0 MiB',
                         common.progress_text('image', upload, 'uploading'))
        self.assertEqual('deleting image i',
                         common.progress_text('image', {'name': 'i'}, 'deleting'))

    def test_human_size(self):
        self.assertEqual('512 B', common.human_size(512))
        self.assertEqual('1.5 KiB', common.human_size(1536))
        self.assertEqual('2.0 GiB', common.human_size(2 * 1024 ** 3))


class TestShapes(testtools.TestCase):

    def test_show_wraps_nested_values(self):
        names, values = common.show({'b': {'y': 1, 'x': [1, 2]}, 'a': ['p', 'q'], 'c': None})
        self.assertEqual(('a', 'b', 'c'), names)
        self.assertEqual('p, q', values[0].human_readable())
        self.assertEqual(['p', 'q'], values[0].machine_readable())
        self.assertEqual('x=[1, 2], y=1', values[1].human_readable())
        self.assertEqual({'y': 1, 'x': [1, 2]}, values[1].machine_readable())
        self.assertIsNone(values[2])

    def test_listing_keeps_field_order(self):
        headers, rows = common.listing([{'name': 'n', 'id': 1, 'extra': 0}], ('id', 'name'),
                                       ('ID', 'Name'))
        self.assertEqual(('ID', 'Name'), headers)
        self.assertEqual([(1, 'n')], rows)

    def test_path_segments_are_quoted(self):
        self.assertEqual('a%2F..%2Fb%3Fx', common.q('a/../b?x'))


class TestStreamingBody(testtools.TestCase):

    def test_upload_body_is_read_in_bounded_chunks(self):
        data = b'x' * (2 * image.CHUNK + 10)
        progress = io.StringIO()
        body = image._ReadProgress(io.BytesIO(data), len(data), 'img',
                                   common.Progress(progress))
        self.assertEqual(len(data), len(body))
        sizes = [len(chunk) for chunk in body]
        self.assertEqual([image.CHUNK, image.CHUNK, 10], sizes)
        self.assertEqual(len(data), body.sent)
        self.assertIn('sending image img: 2.0 MiB of 2.0 MiB (100%)', progress.getvalue())

    def test_read_never_returns_more_than_a_chunk(self):
        body = image._ReadProgress(io.BytesIO(b'y' * (3 * image.CHUNK)), 3 * image.CHUNK,
                                   'img', common.Progress(io.StringIO()))
        self.assertEqual(image.CHUNK, len(body.read(-1)))
        self.assertEqual(100, len(body.read(100)))


class TestErrors(testtools.TestCase):

    def test_api_error_body(self):
        body = ('{"error": {"code": 409, "title": "Conflict", '
                '"message": "Image img1 is in use by node n1."}}')
        exc = client.error_from_response(FakeResponse(409, body))
        self.assertEqual('Error (409): Image img1 is in use by node n1.', str(exc))
        self.assertEqual(409, exc.code)

    def test_non_json_error_is_shortened(self):
        exc = client.error_from_response(FakeResponse(502, '<html>\n<b>bad\ngateway</b>'
                                                      + 'x' * 500 + '</html>'))
        self.assertTrue(str(exc).startswith('Error (502): <html> <b>bad gateway</b>'))
        self.assertLess(len(str(exc)), 230)

    def test_empty_error_body_uses_reason(self):
        exc = client.error_from_response(FakeResponse(502, ''))
        self.assertEqual('Error (502): Bad Gateway', str(exc))
