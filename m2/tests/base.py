"""Base test case: a fresh configuration and a private state directory."""

import socket

import fixtures
import testtools
from oslo_config import fixture as config_fixture

from m2.conf import CONF, database
from m2.drivers import factory


def free_port():
    """A loopback TCP port nothing listens on (at the time of asking)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Database(fixtures.Fixture):
    """A migrated SQLite database in ``state_path`` behind m2's enginefacade."""

    def __init__(self, state_path):
        super().__init__()
        self.state_path = state_path

    def _setUp(self):
        from oslo_db.sqlalchemy import enginefacade, engines

        from m2.db import migration
        from m2.db.sqlalchemy import api as sqlalchemy_api
        self.engine = engines.create_engine('sqlite:///%s/m2.sqlite' % self.state_path,
                                            sqlite_fk=True)
        self.addCleanup(self.engine.dispose)
        migration.upgrade(engine=self.engine)
        sqlalchemy_api._configure()
        self.addCleanup(enginefacade._context_manager.patch_engine(self.engine))


class TestCase(testtools.TestCase):
    """Every test gets CONF reset, ``self.state_path`` and ``self.config()``."""

    def setUp(self):
        super().setUp()
        self.cfg = self.useFixture(config_fixture.Config(CONF))
        # The fixture's cleanup (CONF.reset) also drops defaults set with
        # set_default, such as m2's [database] connection: set them again.
        database.register_opts(CONF)
        CONF([], project='m2', default_config_files=[])
        self.state_path = self.useFixture(fixtures.TempDir()).path
        self.config(state_path=self.state_path)
        factory.reset()
        self.addCleanup(factory.reset)

    def config(self, group=None, **kw):
        """Override options: ``self.config(pool='x', group='ceph')``."""
        self.cfg.config(group=group, **kw)
