"""A real ``m2-server`` process on a loopback port, for functional tests."""

import configparser
import json
import os
import signal
import subprocess
import sys
import time

import fixtures
import requests

from m2.tests.base import free_port

BIN = os.path.dirname(sys.executable)
# Part of m2.cmd.conductor.READY_MESSAGE, logged once its queue is consumed.
CONDUCTOR_READY = 'consuming RPC topic'



class ServerFixture(fixtures.Fixture):
    """Start ``m2-server`` with its own state directory and config file.

    ``conf`` is ``{section: {option: value}}`` merged over the embedded
    default; ``self.url`` is the API endpoint, ``self.state_path`` its state.
    """

    def __init__(self, conf=None, state_path=None, services=('m2-server',)):
        super().__init__()
        self.extra_conf = conf or {}
        self.state_path = state_path
        # ('m2-conductor', 'm2-api') runs the scale-out shape instead;
        # 'm2-conductor@c1' is a conductor with [DEFAULT] host c1 (see command).
        self.services = services
        self.processes = []

    def _setUp(self):
        if self.state_path is None:
            self.state_path = self.useFixture(fixtures.TempDir()).path
        self.port = free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.conf_file = os.path.join(self.state_path, 'm2.conf')
        self.log_file = os.path.join(self.state_path, 'm2-server.log')
        self.write_conf()
        subprocess.run([os.path.join(BIN, 'm2-dbsync'), '--config-file', self.conf_file,
                        'upgrade'], check=True, capture_output=True)
        self.start()
        self.addCleanup(self.stop)

    def write_conf(self, conf=None):
        parser = configparser.ConfigParser()
        base = {'DEFAULT': {'state_path': self.state_path, 'host': 'test-conductor',
                            'debug': 'true', 'log_file': self.log_file},
                'api': {'port': str(self.port), 'host_ip': '127.0.0.1'},
                'conductor': {'sync_interval': '0'},
                'boot': {'dhcp_leases_file': os.path.join(self.state_path, 'leases')}}
        for source in (self.extra_conf, conf or {}):
            for section, values in source.items():
                base.setdefault(section, {}).update({k: str(v) for k, v in values.items()})
        for section, values in base.items():
            if section != 'DEFAULT':
                parser.add_section(section)
            for key, value in values.items():
                parser.set(section, key, value)
        with open(self.conf_file, 'w') as f:
            parser.write(f)

    @property
    def process(self):
        """The process serving the API (the last service started)."""
        return self.processes[-1] if self.processes else None

    def service_log(self, service):
        """The log file of ``service`` (``m2-conductor@c1`` has its own)."""
        name, _, host = service.partition('@')
        if not host:
            return self.log_file
        return os.path.join(self.state_path, '%s-%s.log' % (name, host))

    def command(self, service):
        """The command line of ``service``; ``name@host`` adds a config file
        setting [DEFAULT] host and a log file of its own."""
        name, _, host = service.partition('@')
        cmd = [os.path.join(BIN, name), '--config-file', self.conf_file]
        if host:
            extra = os.path.join(self.state_path, '%s-%s.conf' % (name, host))
            with open(extra, 'w') as f:
                f.write('[DEFAULT]\nhost = %s\nlog_file = %s\n'
                        % (host, self.service_log(service)))
            cmd += ['--config-file', extra]
        return cmd

    def _conductors_ready(self):
        """How many times an m2-conductor has said it consumes its queue."""
        count = 0
        for path in {self.service_log(service) for service in self.services}:
            try:
                with open(path, errors='replace') as f:
                    count += f.read().count(CONDUCTOR_READY)
            except OSError:
                pass
        return count

    def start(self, timeout=30):
        self.processes = []
        # m2-api answers before a separate m2-conductor has declared its
        # queue; a call sent then would be dropped, so wait for both.
        conductors = [s for s in self.services if s.partition('@')[0] == 'm2-conductor']
        ready_wanted = self._conductors_ready() + len(conductors)
        for service in self.services:
            with open(self.log_file + '.stderr', 'ab') as stderr:
                self.processes.append(subprocess.Popen(
                    self.command(service), stdout=subprocess.DEVNULL, stderr=stderr))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError('%s exited with %s: %s' %
                                       (process.args[0], process.returncode, self.stderr()))
            try:
                requests.get(self.url + '/', timeout=1)
            except requests.ConnectionError:
                time.sleep(0.1)
                continue
            if self._conductors_ready() >= ready_wanted:
                return
            time.sleep(0.1)
        raise RuntimeError('m2-server did not answer within %ss' % timeout)

    def stderr(self):
        try:
            with open(self.log_file + '.stderr') as f:
                return f.read()[-3000:]
        except OSError:
            return ''

    def kill(self):
        """SIGKILL: the crash the conductor must recover from."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(10)

    def stop(self):
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)

    def restart(self, conf=None):
        self.stop()
        if conf is not None:
            self.write_conf(conf)
        self.start()

    # HTTP helpers

    def request(self, method, path, body=None, **kwargs):
        """Return (status, parsed JSON body or None)."""
        response = requests.request(method, self.url + path,
                                    json=body if body is not None else None,
                                    timeout=kwargs.pop('timeout', 30), **kwargs)
        try:
            data = response.json()
        except ValueError:
            data = None
        return response.status_code, data

    def wait_for(self, path, predicate=None, timeout=60, gone=False):
        """Poll ``path`` until ``predicate(body)`` (or a 404 with ``gone``)."""
        deadline = time.monotonic() + timeout
        while True:
            status, body = self.request('GET', path)
            if gone and status == 404:
                return body
            if not gone and status == 200 and (predicate is None or predicate(body)):
                return body
            if time.monotonic() > deadline:
                raise AssertionError('timed out waiting on %s: %s %s' % (path, status,
                                                                          json.dumps(body)))
            time.sleep(0.1)

    def wait_stable(self, kind, ident, timeout=60):
        """Wait until an image or node has no operation running; return it."""
        return self.wait_for('/v1/%s/%s' % (kind, ident),
                             lambda body: body.get('progress') is None, timeout=timeout)
