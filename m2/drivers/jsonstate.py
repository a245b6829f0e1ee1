"""Small JSON state files shared safely by threads and processes.

The fake drivers keep their state, and the file storage driver its per-image
metadata, in JSON files a person can read. Two rules make them safe: every
read-modify-write holds an exclusive ``flock`` on a lock file next to the data
(``flock`` locks belong to an open file description, so a fresh descriptor
per acquisition excludes other threads of this process as well as other
processes), and every write goes to a temporary file in the same directory
that is fsync'ed and then renamed over the old one, so a reader or a crash
sees either the old or the new content, never half of it.
"""

import contextlib
import fcntl
import json
import logging
import os
import tempfile

from m2.common import exception

LOG = logging.getLogger(__name__)


@contextlib.contextmanager
def file_lock(lock_path):
    """Hold an exclusive lock on ``lock_path`` (created if missing)."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        # Closing the descriptor releases the lock.
        os.close(fd)


def write_atomic(path, data, mode=0o644):
    """Replace ``path`` with ``data`` (bytes or str) atomically."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    directory = os.path.dirname(path) or '.'
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_json(path, default=None):
    """Return the JSON document in ``path``, or ``default`` if it is missing."""
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except FileNotFoundError:
        return default
    except ValueError as exc:
        # A hand-edited file gone wrong must not be silently replaced.
        raise exception.BackendError(backend=path, reason='not valid JSON: %s' % exc)


def write_json(path, data, mode=0o644):
    """Write ``data`` to ``path`` as indented, sorted JSON, atomically."""
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + '\n', mode=mode)


class StateFile:
    """A JSON document in one file, read and updated under a lock.

    ``with state.update() as data:`` yields the current document (a fresh
    ``default()`` when the file does not exist yet) and writes it back when
    the block ends without an exception.
    """

    def __init__(self, path, default=dict, mode=0o600):
        self.path = os.path.abspath(path)
        self.lock_path = self.path + '.lock'
        self._default = default
        self._mode = mode
        os.makedirs(os.path.dirname(self.path), exist_ok=True)

    def read(self):
        """Return a snapshot of the document (taken under the lock)."""
        with file_lock(self.lock_path):
            return self._load()

    @contextlib.contextmanager
    def update(self):
        with file_lock(self.lock_path):
            data = self._load()
            yield data
            write_json(self.path, data, mode=self._mode)

    def _load(self):
        data = read_json(self.path)
        return self._default() if data is None else data
