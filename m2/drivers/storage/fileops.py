"""Low-level file operations of the file storage driver.

Reflink-or-sparse copies, hole-preserving writes and the "is this file open
anywhere" check, kept apart from the driver's RBD bookkeeping.
"""

import errno
import fcntl
import os

# Granularity of zero detection in sparse copies and uploads.
ZERO_BLOCK = 64 * 1024
_ZEROS = bytes(ZERO_BLOCK)
# linux/fs.h: _IOW(0x94, 9, int)
FICLONE = 0x40049409
# ioctl errors that mean "this filesystem or pair of files cannot reflink".
_NO_REFLINK = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL,
               errno.ENOSYS, errno.EPERM}


def copy_file(src_fd, dst_fd, chunk_size):
    """Copy ``src_fd`` into the empty ``dst_fd``; return 'reflink' or 'sparse'."""
    try:
        fcntl.ioctl(dst_fd, FICLONE, src_fd)
        return 'reflink'
    except OSError as exc:
        if exc.errno not in _NO_REFLINK:
            raise
    size = os.fstat(src_fd).st_size
    offset = 0
    while offset < size:
        try:
            start = os.lseek(src_fd, offset, os.SEEK_DATA)
            end = os.lseek(src_fd, start, os.SEEK_HOLE)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole remains
                break
            if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP):
                raise
            start, end = offset, size  # no SEEK_DATA here: zero checks still apply
        _copy_range(src_fd, dst_fd, start, min(end, size), chunk_size)
        offset = end
    os.ftruncate(dst_fd, size)
    return 'sparse'


def _copy_range(src_fd, dst_fd, start, end, chunk_size):
    pos = start
    while pos < end:
        chunk = os.pread(src_fd, min(chunk_size, end - pos), pos)
        if not chunk:
            break
        write_nonzero(dst_fd, chunk, pos)
        pos += len(chunk)


def write_nonzero(fd, data, offset):
    """pwrite ``data`` at ``offset``, leaving all-zero blocks as holes."""
    view = memoryview(data)
    for i in range(0, len(view), ZERO_BLOCK):
        block = view[i:i + ZERO_BLOCK]
        if block != _ZEROS[:len(block)]:
            pwrite_all(fd, block, offset + i)


def pwrite_all(fd, data, offset):
    """pwrite all of ``data`` at ``offset`` (pwrite may write less)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def is_hole(fd, offset, length):
    """True if ``[offset, offset + length)`` of ``fd`` holds no data extent."""
    try:
        return os.lseek(fd, offset, os.SEEK_DATA) >= offset + length
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return True
        if exc.errno in (errno.EINVAL, errno.EOPNOTSUPP):
            return False
        raise


def processes_using(path):
    """Return the PIDs (on this host, that we may inspect) with ``path`` open."""
    target = os.path.realpath(path)
    try:
        entries = os.listdir('/proc')
    except OSError:
        return []
    pids = []
    for pid in (p for p in entries if p.isdigit()):
        fd_dir = os.path.join('/proc', pid, 'fd')
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # gone, or not ours to look at
            continue
        for fd in fds:
            try:
                link = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if link == target:
                pids.append(int(pid))
                break
    return pids
