"""An in-process M2 API for the CLI tests, served over real HTTP on loopback.

The real stack: pecan app, ConductorManager with its worker threads, the
``file`` storage and ``fake`` iSCSI/isolator drivers, ``ipxe`` boot files, and
an SQLite database created by the Alembic migrations in the test's state
directory. Only the WSGI server differs from m2-server (wsgiref, threaded,
port chosen by the kernel) so that it can run in a thread and stop cleanly.
"""

import logging
import socketserver
import threading
from wsgiref import simple_server

import fixtures

from m2.api import app as api_app
from m2.conductor import manager as conductor_manager
from m2.tests import base

# Server-side loggers: their records would otherwise reach the console
# handler the CLI app puts on the root logger and mix with what it prints.
QUIET_LOGGERS = ('m2', 'pecan', 'oslo_db', 'alembic', 'stevedore')


class _ThreadingServer(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


class APIServer(fixtures.Fixture):
    """Start the API; ``url`` reaches it, ``manager`` is its conductor."""

    def __init__(self, state_path):
        super().__init__()
        self.state_path = state_path

    def _setUp(self):
        for name in QUIET_LOGGERS:
            logger = logging.getLogger(name)
            self.addCleanup(setattr, logger, 'propagate', logger.propagate)
            logger.propagate = False
            # Without a handler, logging's last resort would print warnings.
            handler = logging.NullHandler()
            logger.addHandler(handler)
            self.addCleanup(logger.removeHandler, handler)

        self.useFixture(base.Database(self.state_path))

        self.manager = conductor_manager.ConductorManager(host='cli-test')
        self.manager.start()
        self.addCleanup(self.manager.stop, True)

        server = simple_server.make_server(
            '127.0.0.1', 0, api_app.setup_app(manager=self.manager),
            server_class=_ThreadingServer, handler_class=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05},
                                  name='m2-test-api', daemon=True)
        thread.start()
        self.addCleanup(server.server_close)
        self.addCleanup(thread.join, 5)
        self.addCleanup(server.shutdown)
        self.url = 'http://127.0.0.1:%d' % server.server_port
