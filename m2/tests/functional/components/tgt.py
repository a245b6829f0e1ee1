"""A private tgtd for functional tests, started with tools/tgt.sh.

``TgtdFixture`` starts tgtd in a temp dir (own control socket, portal on
127.0.0.1, a free port), points ``[tgt] control_port`` and ``[iscsi]
portals`` at it when given the test's config fixture, and stops it (by the
PID the script recorded) in cleanup. It skips loudly only when tgt is not
installed or tgtd cannot run on this machine.
"""

import os
import shutil
import subprocess
import time

import fixtures
import testtools

from m2.tests.functional import server as server_mod
from m2.tests.functional.components import common

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))))
SCRIPT = os.path.join(REPO, 'tools', 'tgt.sh')




def pid_alive(pid):
    """True if ``pid`` runs (a zombie does not: init here may not reap)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (FileNotFoundError, IndexError):
        return False


class TgtdFixture(fixtures.Fixture):
    """Run a private tgtd; ``self.control_port``, ``self.portal``, ``self.pid``."""

    def __init__(self, test=None):
        super().__init__()
        self._test = test

    def _setUp(self):
        for tool in ('tgtd', 'tgtadm'):
            if not shutil.which(tool):
                raise testtools.TestCase.skipException(
                    '*** SKIPPED: %s is not installed; run `tools/tgt.sh install` '
                    '(apt-get install tgt tgt-rbd libiscsi-bin qemu-utils '
                    'qemu-block-extra) to run the real tgt tests ***' % tool)
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.start()
        self.addCleanup(self.stop)
        if self._test is not None:
            self._test.config(control_port=self.control_port, group='tgt')
            self._test.config(portals=[self.portal], group='iscsi')

    def start(self):
        """Start (or restart) tgtd; a fresh tgtd has no targets."""
        env = dict(os.environ)
        if getattr(self, 'control_port', None):
            # A restart keeps the control socket and portal the config has.
            env['M2_TGT_CONTROL_PORT'] = str(self.control_port)
            env['M2_TGT_PORT'] = self.portal.rsplit(':', 1)[1]
        else:
            # Not 3260: tests must not meet a tgtd someone else runs there.
            env.setdefault('M2_TGT_PORT', str(server_mod.free_port()))
        last = None
        # The portal port is checked free then bound by tgtd: a parallel test
        # can win that race, so pick again a couple of times.
        for _ in range(3):
            proc = subprocess.run([SCRIPT, 'start', self.dir], env=env, capture_output=True,
                                  text=True, timeout=60)
            if proc.returncode == 0:
                break
            last = proc.stderr
            if getattr(self, 'control_port', None):
                break
            env['M2_TGT_PORT'] = str(server_mod.free_port())
        else:
            proc = None
        if proc is None or proc.returncode != 0:
            # Installed but failing is a real failure, not a skip.
            raise RuntimeError('tools/tgt.sh start failed: %s' % last)
        env = common.read_env(os.path.join(self.dir, 'env'))
        self.control_port = int(env['M2_TGT_CONTROL_PORT'])
        self.portal = env['M2_TGT_PORTAL']
        self.pid = int(env['M2_TGT_PID'])

    def stop(self):
        subprocess.run([SCRIPT, 'stop', self.dir], capture_output=True, text=True, timeout=60)

    def kill(self):
        """SIGKILL tgtd as a crash would (targets vanish with it)."""
        os.kill(self.pid, 9)
        for _ in range(100):
            if not pid_alive(self.pid):
                break
            time.sleep(0.05)
        os.remove(os.path.join(self.dir, 'tgtd.pid'))
