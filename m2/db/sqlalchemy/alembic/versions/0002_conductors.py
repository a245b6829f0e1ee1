"""Conductors and their heartbeats, so a dead conductor's work is taken over.

Revision ID: 0002_conductors
Revises: 0001_initial
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = '0002_conductors'
down_revision = '0001_initial'


def upgrade():
    op.create_table(
        'conductors',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('hostname', sa.String(255), nullable=False),
        sa.Column('online', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('heartbeat_at', sa.DateTime(), nullable=False),
        sa.UniqueConstraint('hostname', name='uniq_conductors0hostname'),
        sqlite_autoincrement=True,
    )
