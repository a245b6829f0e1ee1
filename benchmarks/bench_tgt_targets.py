"""Target create and delete latency of the tgt driver on a real tgtd.

Prints figures (it is not a test). For 1, 10, 50 and 200 targets it times
``TgtDriver.create_target`` (file backing store, initiator ACL, optionally
CHAP) for each target in turn, then ``delete_target`` for each, and prints
the per-target median, p95 and the total. Each create runs one ``tgtadm
--op show`` (to find the iqn and a free tid) plus three or five tgtadm
commands, so the show of an ever larger target list is part of the cost.

Usage::

    .venv/bin/python benchmarks/bench_tgt_targets.py [--chap] [--counts 1,10,50,200]

It starts a private tgtd with ``tools/tgt.sh`` in a temp dir and stops it
at the end.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from m2.conf import CONF  # noqa: E402
from m2.drivers.iscsi import tgt  # noqa: E402

PREFIX = 'iqn.2026-11.org.m2bench'


def _env(path):
    with open(path) as f:
        return dict(line.strip().split('=', 1) for line in f if '=' in line)


def _ms(values):
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
    return '%7.2f %7.2f' % (statistics.median(values) * 1000, p95 * 1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--chap', action='store_true', help='give every target a CHAP account')
    parser.add_argument('--counts', default='1,10,50,200')
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(',')]

    work = tempfile.mkdtemp(prefix='m2-bench-tgt-')
    script = os.path.join(REPO, 'tools', 'tgt.sh')
    subprocess.run([script, 'start', work], check=True, stdout=subprocess.DEVNULL)
    try:
        env = _env(os.path.join(work, 'env'))
        CONF([], project='m2', default_config_files=[])
        CONF.set_override('control_port', int(env['M2_TGT_CONTROL_PORT']), group='tgt')
        CONF.set_override('portals', [env['M2_TGT_PORTAL']], group='iscsi')
        CONF.set_override('iqn_prefix', PREFIX, group='iscsi')
        disk = os.path.join(work, 'disk.img')
        with open(disk, 'wb') as f:
            f.truncate(64 * 1024 * 1024)
        driver = tgt.TgtDriver()
        backing = {'type': 'file', 'path': disk}

        print('tgtd %s (control %s), file backing, CHAP %s'
              % (env['M2_TGT_PORTAL'], env['M2_TGT_CONTROL_PORT'], 'on' if args.chap else 'off'))
        print('command: %s' % ' '.join(['benchmarks/bench_tgt_targets.py'] + sys.argv[1:]))
        print('%7s | %-15s | %-15s | %9s %9s' % ('targets', 'create med p95', 'delete med p95',
                                                  'create s', 'delete s'))
        for count in counts:
            names = ['%s:n%d' % (PREFIX, i) for i in range(count)]
            creates, deletes = [], []
            for i, name in enumerate(names):
                chap = ('u%d' % i, 'BenchSecret%04d' % i) if args.chap else None
                t0 = time.perf_counter()
                # Read-only: every target shares one file (tgt allows it).
                driver.create_target(name, backing, '%s:initiator:n%d' % (PREFIX, i),
                                     chap=chap, readonly=True)
                creates.append(time.perf_counter() - t0)
            assert len(driver.list_targets()) == count
            for name in names:
                t0 = time.perf_counter()
                driver.delete_target(name)
                deletes.append(time.perf_counter() - t0)
            assert driver.list_targets() == []
            print('%7d | %s | %s | %9.3f %9.3f' % (count, _ms(creates), _ms(deletes),
                                                    sum(creates), sum(deletes)))
        print('(per-target figures in ms; totals in s)')
    finally:
        subprocess.run([script, 'stop', work], stdout=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
