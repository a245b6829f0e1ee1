"""Provisioning nodes through a real m2-server: file storage, a real tgtd.

Prints figures (it is not a test). It starts its own tgtd (``tools/tgt.sh``,
private control socket, portal on 127.0.0.1) and its own ``m2-server``
(the functional tests' ``ServerFixture``: file storage, ``tgt`` iSCSI, fake
isolator, ipxe boot), imports one golden image, then for each count N:

* in a row: POST a node, poll until it is active, then the next one;
* concurrently: POST all N nodes at once (from N threads), then poll until
  every one is active (the conductor runs ``[conductor] workers`` at a time);

checking after each run that tgtd exports exactly N targets, then
deprovisioning them all (timed too) so each run starts from an empty tgtd.
Per-node time is the client's POST-to-active latency (median / p95); total is
wall clock from the first POST to the last node seen active.

Usage::

    .venv/bin/python benchmarks/bench_provision_tgt.py [--counts 1,10,50,200]
        [--workers 8] [--size-mib 64]
"""

import argparse
import concurrent.futures
import glob
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import requests

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from m2.drivers.iscsi import tgtadm  # noqa: E402
from m2.tests.functional import server as server_mod  # noqa: E402
from m2.tests.functional.components import common  # noqa: E402

TGT_SH = os.path.join(REPO, 'tools', 'tgt.sh')
POLL = 0.02  # seconds between status polls: small next to one provision


class Bench:
    def __init__(self, url, control_port):
        self.url = url
        self.control_port = control_port
        self.http = requests.Session()
        self.serial = 0

    def call(self, method, path, body=None, expect=None):
        response = self.http.request(method, self.url + path, json=body, timeout=60)
        if expect is not None and response.status_code != expect:
            raise RuntimeError('%s %s -> %s %s' % (method, path, response.status_code,
                                                   response.text[:500]))
        return response.json() if response.content else None

    def target_count(self):
        out = subprocess.run(['tgtadm', '-C', str(self.control_port), '--lld', 'iscsi',
                              '--mode', 'target', '--op', 'show'],
                             capture_output=True, text=True, check=True, timeout=60).stdout
        return len(tgtadm.parse_targets(out))

    def nodes(self):
        return {n['name']: n for n in self.call('GET', '/v1/nodes', expect=200)['nodes']}

    def wait_one(self, name):
        while True:
            node = self.call('GET', '/v1/nodes/' + name, expect=200)
            if node['progress'] is None:
                if node['provision_state'] != 'active':
                    raise RuntimeError('node %s ended %s: %s' % (
                        name, node['provision_state'], node['last_error']))
                return time.perf_counter()
            time.sleep(POLL)

    def new_name(self):
        self.serial += 1
        return 'bn%d' % self.serial

    def post(self, project, image, name):
        self.call('POST', '/v1/nodes', {'name': name, 'project': project, 'image': image,
                                        'nic': 'eno1'}, expect=202)

    def in_a_row(self, project, image, count):
        latencies, names = [], []
        start = time.perf_counter()
        for _ in range(count):
            name = self.new_name()
            t0 = time.perf_counter()
            self.post(project, image, name)
            latencies.append(self.wait_one(name) - t0)
            names.append(name)
        return time.perf_counter() - start, latencies, names

    def concurrently(self, project, image, count):
        names = [self.new_name() for _ in range(count)]
        posted = {}

        def submit(name):
            posted[name] = time.perf_counter()
            self.post(project, image, name)

        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(count, 32)) as pool:
            list(pool.map(submit, names))
        done = {}
        while len(done) < count:
            now = time.perf_counter()
            for name, node in self.nodes().items():
                if name in posted and name not in done and node['progress'] is None:
                    if node['provision_state'] != 'active':
                        raise RuntimeError('node %s ended %s: %s' % (
                            name, node['provision_state'], node['last_error']))
                    done[name] = now
            time.sleep(POLL)
        total = max(done.values()) - start
        return total, [done[n] - posted[n] for n in names], names

    def deprovision(self, names):
        """DELETE the nodes one after another; return the total seconds."""
        start = time.perf_counter()
        for name in names:
            self.call('DELETE', '/v1/nodes/' + name, expect=202)
            while True:
                response = self.http.get(self.url + '/v1/nodes/' + name, timeout=60)
                if response.status_code == 404:
                    break
                node = response.json()
                if node['progress'] is None:
                    raise RuntimeError('deprovision of %s failed: %s' % (
                        name, node['last_error']))
                time.sleep(POLL)
        return time.perf_counter() - start


def start_postgres(workdir):
    """A private PostgreSQL cluster on 127.0.0.1; returns (SQLAlchemy URL, stop)."""
    bindir = sorted(glob.glob('/usr/lib/postgresql/*/bin'))[-1]
    pgdir = os.path.join(workdir, 'pg')
    os.makedirs(pgdir)
    os.chmod(workdir, 0o711)  # noqa: S103 -- postgres must traverse it, not list it
    shutil.chown(pgdir, 'postgres', 'postgres')
    port = server_mod.free_port()

    def as_postgres(*cmd):
        # initdb and postgres refuse to run as root.
        subprocess.run(['runuser', '-u', 'postgres', '--', os.path.join(bindir, cmd[0])]
                       + list(cmd[1:]), check=True, capture_output=True, timeout=120)

    data = os.path.join(pgdir, 'data')
    as_postgres('initdb', '-D', data, '-A', 'trust', '-U', 'm2', '--no-sync')
    as_postgres('pg_ctl', '-D', data, '-l', os.path.join(pgdir, 'log'), '-w',
                '-o', '-h 127.0.0.1 -p %d -k %s -F' % (port, pgdir), 'start')
    as_postgres('createdb', '-h', '127.0.0.1', '-p', str(port), '-U', 'm2', 'm2')
    return ('postgresql+psycopg2://m2@127.0.0.1:%d/m2' % port,
            lambda: as_postgres('pg_ctl', '-D', data, '-m', 'fast', 'stop'))


def ms(values):
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
    return '%.0f / %.0f' % (statistics.median(values) * 1000, p95 * 1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--counts', default='1,10,50,200')
    parser.add_argument('--workers', type=int, default=8, help='[conductor] workers')
    parser.add_argument('--size-mib', type=int, default=64, help='golden image size')
    parser.add_argument('--db', choices=['sqlite', 'postgres'], default='sqlite',
                        help='sqlite: the embedded default; postgres: a private '
                             'PostgreSQL cluster (needs the server binaries and psycopg2)')
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(',')]
    if not shutil.which('tgtd'):
        sys.exit('tgtd is not installed: run tools/tgt.sh install')

    workdir = tempfile.mkdtemp(prefix='m2-bench-tgt-')
    tgt_dir = os.path.join(workdir, 'tgt')
    subprocess.run([TGT_SH, 'start', tgt_dir], check=True, capture_output=True, timeout=60)
    server = None
    ok = False
    stop_db = None
    try:
        db_conf = {}
        if args.db == 'postgres':
            url, stop_db = start_postgres(workdir)
            db_conf = {'database': {'connection': url}}
        env = common.read_env(os.path.join(tgt_dir, 'env'))
        control = int(env['M2_TGT_CONTROL_PORT'])
        server = server_mod.ServerFixture(
            conf={'drivers': {'iscsi': 'tgt'}, 'tgt': {'control_port': control},
                  'iscsi': {'portals': env['M2_TGT_PORTAL']},
                  'conductor': {'workers': args.workers},
                  'DEFAULT': {'debug': 'false'}, **db_conf},
            state_path=os.path.join(workdir, 'state'))
        os.makedirs(server.state_path)
        server.setUp()
        bench = Bench(server.url, control)

        images = os.path.join(server.state_path, 'images')
        os.makedirs(images, exist_ok=True)
        with open(os.path.join(images, 'golden-src'), 'wb') as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(1024 * 1024))
        bench.call('POST', '/v1/projects', {'name': 'bench', 'provisioning_network': 'pn'},
                   expect=201)
        image = bench.call('POST', '/v1/images', {'name': 'gold', 'project': 'bench',
                                                  'source': 'golden-src'}, expect=202)
        while bench.call('GET', '/v1/images/' + image['id'])['progress'] is not None:
            time.sleep(POLL)

        rows = []
        for count in counts:
            for mode in ('in a row', 'concurrent'):
                run = bench.in_a_row if mode == 'in a row' else bench.concurrently
                total, latencies, names = run('bench', image['id'], count)
                targets = bench.target_count()
                if targets != count:
                    raise RuntimeError('tgtd exports %d targets, expected %d' % (targets, count))
                gone = bench.deprovision(names)
                if bench.target_count():
                    raise RuntimeError('targets left after deprovisioning')
                rows.append((count, mode, ms(latencies), total, total / count, gone))
                print('%4d %-10s done in %.2f s' % (count, mode, total), file=sys.stderr)

        print('Command: %s' % ' '.join(shlex.quote(a) for a in [
            os.path.relpath(sys.executable, REPO), os.path.relpath(__file__, REPO)]
            + sys.argv[1:]))
        print('m2-server: file storage (%d MiB golden image), tgt iSCSI, fake isolator, '
              'ipxe boot; %s database; [conductor] workers = %d; %d CPUs'
              % (args.size_mib, args.db, args.workers, os.cpu_count()))
        print()
        header = ('nodes', 'mode', 'per node ms med / p95', 'total s', 'total/node ms',
                  'deprovision all s')
        widths = (6, 10, 22, 8, 13, 17)
        line = '  '.join('=' * w for w in widths)
        print(line)
        print('  '.join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        print(line)
        for count, mode, lat, total, per, gone in rows:
            cells = (str(count), mode, lat, '%.2f' % total, '%.0f' % (per * 1000),
                     '%.2f' % gone)
            print('  '.join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
        print(line)
        ok = True
    finally:
        if server is not None:
            server.cleanUp()
        subprocess.run([TGT_SH, 'stop', tgt_dir], capture_output=True, timeout=120)
        if stop_db is not None:
            stop_db()  # before its directory goes
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print('Failed: logs kept in %s' % workdir, file=sys.stderr)


if __name__ == '__main__':
    main()
