"""A real single-node Ceph cluster for functional tests, from tools/ceph.sh.

``CephFixture(test)`` points ``[ceph]`` at a running cluster (pool, conffile,
the least-privilege ``client.m2`` user and its keyring). By default every
test in a process shares one cluster, started on first use on private ports
and stopped at interpreter exit (starting takes a few seconds); a test that
breaks the cluster on purpose (stops its monitor) asks for ``private=True``
and gets its own, stopped in cleanup. The fixture only checks that Ceph is
installed -- the test command runs ``tools/ceph.sh install`` beforehand -- and
skips LOUDLY naming what is missing when it is not.
"""

import atexit
import os
import shutil
import subprocess
import tempfile
import threading

import fixtures
import testtools

from m2.tests.functional.components import common

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))))
SCRIPT = os.path.join(REPO, 'tools', 'ceph.sh')
BINARIES = ('ceph-mon', 'ceph-osd', 'ceph', 'ceph-authtool', 'monmaptool', 'rbd', 'rados')


def missing():
    """What this machine lacks to run a cluster and talk to it, or None."""
    absent = [b for b in BINARIES if not shutil.which(b)]
    try:
        import rados  # noqa: F401
        import rbd  # noqa: F401
    except ImportError:
        absent.append('the rados/rbd Python bindings in this interpreter')
    if absent:
        return ('*** SKIPPED: Ceph is not installed: missing %s; run `tools/ceph.sh install` '
                '(apt-get install ceph-mon ceph-osd ceph-common python3-rados python3-rbd, '
                'and a .pth in the venv) to run the real Ceph tests ***' % ', '.join(absent))
    return None



class CephCluster:
    """One cluster started by tools/ceph.sh in ``directory``."""

    def __init__(self, directory):
        self.dir = directory
        env = dict(os.environ, M2_CEPH_MON_PORT='auto', M2_CEPH_MON_V2_PORT='auto')
        # memstore: ready in ~3 s and test data is small (bluestore: ~10 s).
        env.setdefault('M2_CEPH_OBJECTSTORE', os.environ.get('M2_TEST_CEPH_OBJECTSTORE',
                                                             'memstore'))
        for _ in range(3):  # a free port can be taken between check and bind
            proc = self._script('start', env=env, check=False)
            if proc.returncode == 0:
                break
            self._script('stop', check=False)
            shutil.rmtree(directory, ignore_errors=True)
        else:
            raise RuntimeError('tools/ceph.sh start %s failed: %s' % (directory, proc.stderr))
        self.env = common.read_env(os.path.join(directory, 'env'))
        self.conffile = self.env['CEPH_CONF']
        self.pool = self.env['M2_CEPH_POOL']
        self.user = self.env['M2_CEPH_USER']
        self.keyring = self.env['M2_CEPH_KEYRING']

    def _script(self, action, env=None, check=True):
        proc = subprocess.run([SCRIPT, action, self.dir], env=env, capture_output=True,
                              text=True, timeout=180)
        if check and proc.returncode != 0:
            raise RuntimeError('tools/ceph.sh %s failed: %s' % (action, proc.stderr))
        return proc

    def stop(self):
        self._script('stop', check=False)

    def stop_mon(self):
        self._script('stop-mon')

    def start_mon(self):
        self._script('start-mon')

    def rbd(self, *args, admin=False):
        """Run the ``rbd`` CLI (as client.m2 unless ``admin``); return stdout bytes."""
        cmd = ['rbd', '-c', self.conffile, '-p', self.pool]
        if not admin:
            cmd += ['--id', self.user, '--keyring', self.keyring]
        proc = subprocess.run(cmd + list(args), capture_output=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError('rbd %s failed: %s' % (' '.join(args), proc.stderr.decode()))
        return proc.stdout

    def purge(self, prefix):
        """Remove every image named ``prefix*`` with its snapshots (clones first)."""
        import rados
        import rbd
        cluster = rados.Rados(conffile=self.conffile, rados_id=self.user,
                              conf={'keyring': self.keyring})
        cluster.connect(timeout=10)
        try:
            with cluster.open_ioctx(self.pool) as ioctx:
                for _ in range(5):  # a parent goes once its clones have
                    names = [n for n in rbd.RBD().list(ioctx) if n.startswith(prefix)]
                    if not names:
                        return
                    for name in names:
                        try:
                            with rbd.Image(ioctx, name) as image:
                                for snap in list(image.list_snaps()):
                                    if image.is_protected_snap(snap['name']):
                                        image.unprotect_snap(snap['name'])
                                    image.remove_snap(snap['name'])
                            rbd.RBD().remove(ioctx, name)
                        except (rbd.ImageBusy, rbd.ImageHasSnapshots, rbd.ImageNotFound):
                            continue
        finally:
            cluster.shutdown()


_shared = None
_shared_lock = threading.Lock()


def shared_cluster():
    """The process's shared cluster, started on first use, stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            directory = tempfile.mkdtemp(prefix='m2-ceph-')
            try:
                _shared = CephCluster(directory)
            except Exception:
                shutil.rmtree(directory, ignore_errors=True)
                raise
            atexit.register(_stop_shared, _shared)
        return _shared


def _stop_shared(cluster):
    cluster.stop()
    shutil.rmtree(cluster.dir, ignore_errors=True)


class CephFixture(fixtures.Fixture):
    """A running cluster in ``self.cluster``; configures ``[ceph]`` for ``test``."""

    def __init__(self, test=None, private=False):
        super().__init__()
        self._test = test
        self._private = private

    def _setUp(self):
        reason = missing()
        if reason:
            raise testtools.TestCase.skipException(reason)
        if self._private:
            directory = self.useFixture(fixtures.TempDir()).path
            self.cluster = CephCluster(directory)
            self.addCleanup(self.cluster.stop)
        else:
            self.cluster = shared_cluster()
        from m2.drivers.storage import rbd_client
        # Connections to this cluster must not outlive the test's view of it.
        self.addCleanup(rbd_client.close_all)
        if self._test is not None:
            self._test.config(group='ceph', pool=self.cluster.pool,
                              conffile=self.cluster.conffile, user=self.cluster.user,
                              keyring=self.cluster.keyring)
