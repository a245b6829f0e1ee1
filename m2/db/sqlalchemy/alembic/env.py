"""Alembic environment: run migrations on m2's engine."""

from alembic import context

from m2.db.sqlalchemy import models

target_metadata = models.Base.metadata


def run_migrations_online():
    engine = context.config.attributes['engine']
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == 'sqlite')
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
