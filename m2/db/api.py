"""The database interface the conductor and the API use.

``get_instance()`` returns the backend's ``Connection``; only the SQLAlchemy
backend exists, reached through oslo.db (SQLite, PostgreSQL, MySQL).
"""

from m2.db.sqlalchemy import api as sqlalchemy_api

_INSTANCE = None


def setup():
    """Start the database engine (at service start, after config parsing)."""
    return sqlalchemy_api.setup()


def get_instance():
    """Return the process-wide database connection object."""
    global _INSTANCE
    if _INSTANCE is None:
        _INSTANCE = sqlalchemy_api.Connection()
    return _INSTANCE
