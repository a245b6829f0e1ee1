"""Models and Alembic migrations agree, on SQLite and on a real PostgreSQL."""

import os
import subprocess
import uuid

import sqlalchemy
from oslo_db.sqlalchemy import test_migrations

from m2.db import migration
from m2.db.sqlalchemy import models
from m2.tests import base

PG_URL = os.environ.get('M2_TEST_POSTGRES', 'postgresql+psycopg2://postgres@127.0.0.1:5432')


class _Sync(test_migrations.ModelsMigrationsSync):
    def get_metadata(self):
        return models.Base.metadata

    def get_engine(self):
        return self.engine

    def db_sync(self, engine):
        migration.upgrade('head', engine=engine)

    def include_object(self, object_, name, type_, reflected, compare_to):
        return True


class TestSQLite(_Sync, base.TestCase):
    def setUp(self):
        super().setUp()
        path = os.path.join(self.state_path, 'migrate.sqlite')
        self.engine = sqlalchemy.create_engine('sqlite:///%s' % path)
        self.addCleanup(self.engine.dispose)

    def test_version_before_and_after(self):
        self.assertIsNone(migration.version(engine=self.engine))
        migration.upgrade('head', engine=self.engine)
        self.assertEqual(migration.head(), migration.version(engine=self.engine))


class TestPostgreSQL(_Sync, base.TestCase):
    """Against the PostgreSQL on loopback (M2_TEST_POSTGRES overrides the URL)."""

    def setUp(self):
        super().setUp()
        admin = sqlalchemy.create_engine(PG_URL + '/postgres', isolation_level='AUTOCOMMIT')
        try:
            with admin.connect() as conn:
                name = 'm2_migrations_%s' % uuid.uuid4().hex[:8]
                conn.execute(sqlalchemy.text('CREATE DATABASE %s' % name))
        except sqlalchemy.exc.OperationalError as exc:
            admin.dispose()
            if subprocess.run(['which', 'pg_ctl'], capture_output=True).returncode:
                self.skipTest('NO POSTGRESQL: nothing on %s and no pg_ctl: %s' % (PG_URL, exc))
            self.skipTest('NO POSTGRESQL listening on %s (start one, or set '
                          'M2_TEST_POSTGRES): %s' % (PG_URL, exc))

        def drop():
            self.engine.dispose()
            with admin.connect() as conn:
                conn.execute(sqlalchemy.text('DROP DATABASE IF EXISTS %s' % name))
            admin.dispose()

        self.engine = sqlalchemy.create_engine('%s/%s' % (PG_URL, name))
        self.addCleanup(drop)
