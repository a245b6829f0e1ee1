"""Provisioning cost on Ceph RBD: a copy-on-write clone vs a full copy.

Prints figures (it is not a test). For each image size it writes real data
into a golden image through the driver, then times:

* provision: clone of the golden image's protected snapshot (what a node gets)
* full copy: create + stream every byte through the driver (what copying would cost)
* import: snapshot -> protect -> clone -> flatten -> protect -> drop the temporary snapshot
* node snapshot: the same chain from a node's clone (flatten copies the parent's blocks)

Usage::

    .venv/bin/python benchmarks/bench_ceph_provision.py [--cluster DIR] [--large]

Without ``--cluster`` it starts a private cluster with ``tools/ceph.sh`` (bluestore
on a sparse file) in a temp dir and stops it at the end; with it, it uses the
running cluster whose ``DIR/env`` tools/ceph.sh wrote.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from m2.conf import CONF  # noqa: E402
from m2.drivers.storage import ceph as ceph_driver  # noqa: E402
from m2.drivers.storage import rbd_client  # noqa: E402
from m2.tests.functional.components import common  # noqa: E402

MiB = 1024 * 1024
GiB = 1024 * MiB
CHUNK = 4 * MiB


def data_chunks(size):
    """``size`` bytes of incompressible data, 4 MiB at a time, no two chunks alike."""
    block = bytearray(os.urandom(CHUNK))
    for offset in range(0, size, CHUNK):
        block[:16] = offset.to_bytes(16, 'big')
        yield bytes(block[:min(CHUNK, size - offset)])


def timed(func, *args):
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


def drop_snapshot(driver, name, snap):
    driver.unprotect_snapshot(name, snap)
    driver.remove_snapshot(name, snap)


def import_chain(driver, source, dest):
    """The import workflow: the source is left untouched."""
    driver.create_snapshot(source, 'tmp')
    driver.protect_snapshot(source, 'tmp')
    driver.clone(source, 'tmp', dest)
    driver.flatten(dest)
    driver.create_snapshot(dest, 'gold')
    driver.protect_snapshot(dest, 'gold')
    drop_snapshot(driver, source, 'tmp')


def full_copy(driver, source, dest):
    driver.create_image(dest, driver.get_size(source))
    driver.write_image(dest, driver.read_image(source, chunk_size=CHUNK))


def bench_size(driver, size, prefix, rounds):
    name = lambda s: '%s-%d-%s' % (prefix, size // MiB, s)  # noqa: E731
    golden = name('golden')
    driver.create_image(golden, size)
    upload = timed(driver.write_image, golden, data_chunks(size))
    snap = timed(lambda: (driver.create_snapshot(golden, 'gold'),
                          driver.protect_snapshot(golden, 'gold')))

    clones = []
    for i in range(rounds):
        clones.append(timed(driver.clone, golden, 'gold', name('node%d' % i)))
    copy = timed(full_copy, driver, golden, name('copy'))
    imported = timed(import_chain, driver, golden, name('imported'))
    node = name('node0')
    driver.write_image(node, [os.urandom(MiB)])  # the node wrote something
    node_snap = timed(import_chain, driver, node, name('nodesnap'))

    # Clean up, children first.
    for i in range(rounds):
        driver.remove_image(name('node%d' % i))
    for image in (name('imported'), name('nodesnap')):
        drop_snapshot(driver, image, 'gold')
        driver.remove_image(image)
    driver.remove_image(name('copy'))
    drop_snapshot(driver, golden, 'gold')
    driver.remove_image(golden)
    clone = statistics.median(clones)
    return {'size': size, 'upload': upload, 'snap': snap, 'clone': clone,
            'clone_max': max(clones), 'copy': copy, 'import': imported,
            'node_snapshot': node_snap}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cluster', help='directory of a running tools/ceph.sh cluster')
    parser.add_argument('--large', action='store_true', help='also 10 GiB')
    parser.add_argument('--rounds', type=int, default=5, help='clones per size (median shown)')
    args = parser.parse_args()

    own = None
    if args.cluster:
        directory = args.cluster
    else:
        own = directory = tempfile.mkdtemp(prefix='m2-bench-ceph-')
        env = dict(os.environ, M2_CEPH_MON_PORT='auto', M2_CEPH_MON_V2_PORT='auto')
        if args.large:
            env.setdefault('M2_CEPH_OSD_SIZE', '64G')
        subprocess.run([os.path.join(REPO, 'tools', 'ceph.sh'), 'start', directory],
                       env=env, check=True, stdout=subprocess.DEVNULL)
    try:
        env = common.read_env(os.path.join(directory, 'env'))
        CONF([], project='m2', default_config_files=[])
        for key, opt in (('M2_CEPH_POOL', 'pool'), ('CEPH_CONF', 'conffile'),
                         ('M2_CEPH_USER', 'user'), ('M2_CEPH_KEYRING', 'keyring')):
            CONF.set_override(opt, env[key], group='ceph')
        driver = ceph_driver.CephStorageDriver()
        store = 'unknown'
        with open(env['CEPH_CONF']) as f:
            for line in f:
                if line.startswith('osd objectstore'):
                    store = line.split('=')[1].strip()
        sizes = [64 * MiB, GiB] + ([10 * GiB] if args.large else [])
        prefix = 'bench%s' % uuid.uuid4().hex[:6]
        print('Ceph %s, one OSD (%s), pool %s, user client.%s, %d clones per size'
              % (subprocess.run(['ceph', '--version'], capture_output=True, text=True)
                 .stdout.split()[2], store, env['M2_CEPH_POOL'], env['M2_CEPH_USER'],
                 args.rounds))
        header = ('size', 'upload', 'snap+protect', 'clone (median/max)', 'full copy',
                  'copy/clone', 'import', 'node snapshot')
        print('| ' + ' | '.join(header) + ' |')
        print('|' + '---|' * len(header))
        for size in sizes:
            r = bench_size(driver, size, prefix, args.rounds)
            row = ('| %s | %.2f s (%.0f MB/s) | %.0f ms | %.0f / %.0f ms | %.2f s | %.0fx '
                   '| %.2f s | %.2f s |')
            print(row
                  % ('%d MiB' % (size // MiB) if size < GiB else '%d GiB' % (size // GiB),
                     r['upload'], size / r['upload'] / 1e6, r['snap'] * 1e3,
                     r['clone'] * 1e3, r['clone_max'] * 1e3, r['copy'],
                     r['copy'] / r['clone'], r['import'], r['node_snapshot']), flush=True)
    finally:
        rbd_client.close_all()
        if own:
            subprocess.run([os.path.join(REPO, 'tools', 'ceph.sh'), 'stop', own])
            shutil.rmtree(own, ignore_errors=True)


if __name__ == '__main__':
    main()
