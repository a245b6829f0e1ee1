"""Schema migrations with Alembic: the only way m2's schema changes."""

import os

from alembic import command as alembic_command
from alembic import config as alembic_config
from alembic import migration as alembic_migration

from m2.db.sqlalchemy import api as sqlalchemy_api

ALEMBIC_DIR = os.path.join(os.path.dirname(__file__), 'sqlalchemy', 'alembic')


def _alembic_config(engine=None):
    config = alembic_config.Config()
    config.set_main_option('script_location', ALEMBIC_DIR)
    config.attributes['engine'] = engine or sqlalchemy_api.get_engine()
    return config


def upgrade(revision='head', engine=None):
    """Upgrade the database to ``revision``."""
    alembic_command.upgrade(_alembic_config(engine), revision)


def version(engine=None):
    """Return the current revision, or None for an empty database."""
    engine = engine or sqlalchemy_api.get_engine()
    with engine.connect() as conn:
        return alembic_migration.MigrationContext.configure(conn).get_current_revision()


def head():
    from alembic.script import ScriptDirectory
    return ScriptDirectory.from_config(_alembic_config(engine=object())).get_current_head()


def outdated(engine=None):
    """None when the schema is at the latest migration, else why not."""
    current, latest = version(engine), head()
    if current == latest:
        return None
    return ('The database is at revision %s, not %s: run "m2-dbsync upgrade" first.'
            % (current or 'none', latest))
