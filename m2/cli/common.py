"""What the ``m2`` commands share: output shaping, waiting and progress.

Long operations answer at once with the resource in a transitional state;
unless ``--no-wait`` is given, the commands poll it (every 0.1 s growing to
``POLL_MAX`` s) until it settles, drawing a progress line on stderr, then
print it, or fail with its ``last_error``.
"""

import logging
import sys
import time
from urllib import parse

from cliff import columns

from m2.cli import client as m2_client
from m2.common import states

LOG = logging.getLogger(__name__)

POLL_START = 0.1
POLL_MAX = 0.5
DEFAULT_TIMEOUT = 3600

# The server's own state names: the CLI waits while a resource is in one.
IMAGE_TRANSITIONAL = states.IMAGE_TRANSITIONAL
NODE_TRANSITIONAL = states.NODE_TRANSITIONAL
NODE_FAILED = frozenset([states.ERROR, states.DEPROVISION_FAILED])

# Verbs of the progress line, by task.
TASK_VERBS = {'import': 'importing', 'upload': 'uploading', 'copy': 'copying',
              'snapshot': 'snapshotting', 'export': 'exporting', 'delete': 'deleting',
              'provision': 'provisioning', 'deprovision': 'deprovisioning'}


def q(value):
    """``value`` quoted as one URL path segment."""
    return parse.quote(str(value), safe='')


class DictColumn(columns.FormattableColumn):
    """A nested dict: ``k=v, k=v`` in tables, itself in json/yaml."""

    def human_readable(self):
        if not self._value:
            return ''
        return ', '.join('%s=%s' % (k, _flat(v)) for k, v in sorted(self._value.items()))

    def machine_readable(self):
        return self._value


class ListColumn(columns.FormattableColumn):
    """A list: comma-separated in tables, itself in json/yaml."""

    def human_readable(self):
        return ', '.join(str(v) for v in self._value or [])

    def machine_readable(self):
        return self._value


def _flat(value):
    if isinstance(value, (list, tuple)):
        return '[%s]' % ', '.join(str(v) for v in value)
    if isinstance(value, dict):
        return '{%s}' % ', '.join('%s=%s' % (k, _flat(v)) for k, v in sorted(value.items()))
    return value


def wrap(value):
    """A value ready for cliff: nested dicts and lists become columns."""
    if isinstance(value, dict):
        return DictColumn(value)
    if isinstance(value, list):
        return ListColumn(value)
    return value


def show(resource, fields=None):
    """``(columns, values)`` of one resource for a ShowOne command."""
    names = fields or sorted(resource)
    return tuple(names), tuple(wrap(resource.get(n)) for n in names)


def listing(rows, fields, headers=None):
    """``(headers, rows)`` for a Lister command."""
    return (tuple(headers or fields),
            [tuple(wrap(row.get(f)) for f in fields) for row in rows])


def add_scope_arguments(parser, what, project_help=None):
    """``--project`` and ``--all-projects`` of a list command of ``what``s."""
    parser.add_argument('--project', metavar='<project>',
                        help=project_help or 'Only the %s of this project.' % what)
    parser.add_argument('--all-projects', action='store_true',
                        help='%s of every project (operators).' % what.capitalize())
    return parser


def scope_query(parsed_args):
    """The query parameters of ``add_scope_arguments``' options."""
    return {'project': parsed_args.project,
            'all_projects': 'true' if parsed_args.all_projects else None}


def add_wait_arguments(parser, what='operation'):
    parser.add_argument('--no-wait', dest='wait', action='store_false', default=True,
                        help='Return at once, with the resource in its transitional '
                             'state, instead of waiting for the %s to finish.' % what)
    parser.add_argument('--timeout', type=int, default=DEFAULT_TIMEOUT, metavar='<seconds>',
                        help='Give up waiting after this many seconds (default %d); '
                             'the operation itself goes on.' % DEFAULT_TIMEOUT)
    return parser


class Progress:
    """One line on stderr, redrawn in place on a terminal, else printed on change.

    ``throttle`` (seconds) bounds how often a changing line is written: byte
    counters change on every chunk, and a log file wants a few lines, not
    thousands.
    """

    def __init__(self, stream=None, throttle=0.0, enabled=True):
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, 'isatty', lambda: False)())
        self.throttle = throttle
        self.last = None
        self.pending = None
        self.written_at = 0.0
        self.width = 0

    def update(self, text):
        if not self.enabled or text == self.last:
            return
        now = time.monotonic()
        if self.throttle and self.last is not None and now - self.written_at < self.throttle:
            self.pending = text
            return
        self._write(text, now)

    def _write(self, text, now):
        self.last, self.pending, self.written_at = text, None, now
        if self.tty:
            pad = max(0, self.width - len(text))
            self.stream.write('\r' + text + ' ' * pad)
            self.width = len(text)
        else:
            self.stream.write(text + '\n')
        self.stream.flush()

    def done(self):
        """Write the last state held back by the throttle; end the line."""
        if self.pending is not None:
            self._write(self.pending, time.monotonic())
        if self.tty and self.last is not None:
            self.stream.write('\n')
            self.stream.flush()
        self.last = self.pending = None
        self.width = 0


def quiet(app):
    """True with ``-q``: no progress and no notes, only results and errors."""
    return getattr(getattr(app, 'options', None), 'verbose_level', 1) == 0


def progress_for(app, throttle=0.0):
    return Progress(app.stderr, throttle=throttle, enabled=not quiet(app))


def note(app, text):
    """An informational line on stderr (``Deleted image x``), silenced by ``-q``."""
    if not quiet(app):
        app.stderr.write(text + '\n')


def human_size(size):
    value = float(size or 0)
    for unit in ('B', 'KiB', 'MiB', 'GiB', 'TiB'):
        if value < 1024 or unit == 'TiB':
            return ('%d %s' % (value, unit)) if unit == 'B' else '%.1f %s' % (value, unit)
        value /= 1024
    return '%d B' % size


def progress_text(kind, resource, state):
    """``provisioning node1: create_target (2/5)``."""
    progress = resource.get('progress') or {}
    verb = TASK_VERBS.get(progress.get('task'), state)
    text = '%s %s %s' % (verb, kind, resource.get('name'))
    if progress.get('steps_total'):
        text += ': %s (%d/%d)' % (progress.get('current_step') or 'finishing',
                                  progress.get('steps_done', 0), progress['steps_total'])
    if progress.get('bytes_done') is not None:
        text += ' %s' % human_size(progress['bytes_done'])
    return text


class Waiter:
    """Poll ``path`` until ``settled(resource)``; bounded by ``timeout``."""

    def __init__(self, app, kind, timeout=DEFAULT_TIMEOUT):
        self.client = app.client
        self.kind = kind
        self.timeout = timeout
        self.progress = progress_for(app)

    def _polls(self):
        deadline = time.monotonic() + self.timeout
        interval = POLL_START
        while True:
            yield
            if time.monotonic() >= deadline:
                raise m2_client.CommandError(
                    'Timed out after %d s waiting for %s; it goes on in the background '
                    '(see "m2 %s show")' % (self.timeout, self.kind, self.kind))
            time.sleep(interval)
            interval = min(POLL_MAX, interval * 2)

    def until(self, path, state_key, transitional, busy=None):
        """Poll until the state leaves ``transitional`` (and ``busy`` is false)."""
        try:
            for _ in self._polls():
                resource = self.client.get(path)
                state = resource.get(state_key)
                if state not in transitional and not (busy and busy(resource)):
                    return resource
                self.progress.update(progress_text(self.kind, resource, state))
        finally:
            self.progress.done()

    def until_gone(self, path, state_key, transitional):
        """Poll until GET answers 404; return the resource if it settled instead."""
        try:
            for _ in self._polls():
                resource = self.client.exists(path)
                if resource is None:
                    return None
                state = resource.get(state_key)
                if state not in transitional:
                    return resource
                self.progress.update(progress_text(self.kind, resource, state))
        finally:
            self.progress.done()


def image_failed(image, action):
    return m2_client.CommandError('Image %s: %s failed: %s' % (
        image.get('name'), action, image.get('last_error') or 'status %s' % image.get('status')))


def wait_image(app, image, parsed_args, action):
    """Wait for a created image (import, upload, copy, snapshot) to be active."""
    if not parsed_args.wait:
        return image
    image = Waiter(app, 'image', parsed_args.timeout).until(
        '/images/%s' % q(image['id']), 'status', IMAGE_TRANSITIONAL)
    if image['status'] != 'active':
        raise image_failed(image, action)
    return image


def wait_image_deleted(app, image, parsed_args):
    if not parsed_args.wait:
        return image
    left = Waiter(app, 'image', parsed_args.timeout).until_gone(
        '/images/%s' % q(image['id']), 'status', IMAGE_TRANSITIONAL)
    if left is not None:
        raise image_failed(left, 'delete')
    return None


def wait_node(app, node, parsed_args, action):
    if not parsed_args.wait:
        return node
    node = Waiter(app, 'node', parsed_args.timeout).until(
        '/nodes/%s' % q(node['name']), 'provision_state', NODE_TRANSITIONAL)
    if node['provision_state'] in NODE_FAILED or node.get('last_error'):
        raise node_failed(node, action)
    return node


def node_failed(node, action):
    return m2_client.CommandError('Node %s: %s failed (%s): %s' % (
        node.get('name'), action, node.get('provision_state'),
        node.get('last_error') or 'no details'))
