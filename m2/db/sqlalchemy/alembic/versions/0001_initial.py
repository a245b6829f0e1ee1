"""Initial schema: projects, images, nodes.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = '0001_initial'
down_revision = None


def _timestamps():
    return [sa.Column('created_at', sa.DateTime(), nullable=False),
            sa.Column('updated_at', sa.DateTime(), nullable=True)]


def _task_columns():
    return [sa.Column('reservation', sa.String(255), nullable=True),
            sa.Column('task', sa.String(32), nullable=True),
            sa.Column('task_steps', sa.Text(), nullable=True),
            sa.Column('task_data', sa.Text(), nullable=True),
            sa.Column('last_error', sa.Text(), nullable=True)]


def upgrade():
    op.create_table(
        'projects',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('name', sa.String(63), nullable=False),
        sa.Column('keystone_project_id', sa.String(64), nullable=True),
        sa.Column('isolator_project', sa.String(255), nullable=True),
        sa.Column('provisioning_network', sa.String(255), nullable=True),
        *_timestamps(),
        sa.UniqueConstraint('name', name='uniq_projects0name'),
    )
    op.create_index('ix_projects_keystone_project_id', 'projects', ['keystone_project_id'])
    op.create_table(
        'images',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('uuid', sa.String(36), nullable=False),
        sa.Column('name', sa.String(63), nullable=False),
        sa.Column('project_id', sa.Integer(), sa.ForeignKey('projects.id'), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('public', sa.Boolean(), nullable=False),
        sa.Column('parent_id', sa.Integer(), sa.ForeignKey('images.id', ondelete='SET NULL'),
                  nullable=True),
        sa.Column('source', sa.String(255), nullable=True),
        sa.Column('storage_name', sa.String(255), nullable=True),
        sa.Column('size', sa.BigInteger(), nullable=True),
        sa.Column('status', sa.String(16), nullable=False),
        *_task_columns(),
        *_timestamps(),
        sa.UniqueConstraint('project_id', 'name', name='uniq_images0project_id0name'),
        sa.UniqueConstraint('uuid', name='uniq_images0uuid'),
        sa.UniqueConstraint('storage_name', name='uniq_images0storage_name'),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_images_project_id', 'images', ['project_id'])
    op.create_table(
        'nodes',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('uuid', sa.String(36), nullable=False),
        sa.Column('name', sa.String(63), nullable=False),
        sa.Column('project_id', sa.Integer(), sa.ForeignKey('projects.id'), nullable=False),
        sa.Column('image_id', sa.Integer(), sa.ForeignKey('images.id'), nullable=True),
        sa.Column('nic_label', sa.String(63), nullable=False),
        sa.Column('mac', sa.String(17), nullable=True),
        sa.Column('disk_name', sa.String(255), nullable=True),
        sa.Column('initiator_iqn', sa.String(223), nullable=True),
        sa.Column('target_iqn', sa.String(223), nullable=True),
        sa.Column('target_portals', sa.Text(), nullable=True),
        sa.Column('target_lun', sa.Integer(), nullable=True),
        sa.Column('chap_username', sa.String(64), nullable=True),
        sa.Column('chap_secret', sa.String(255), nullable=True),
        sa.Column('provision_state', sa.String(32), nullable=False),
        *_task_columns(),
        *_timestamps(),
        sa.UniqueConstraint('name', name='uniq_nodes0name'),
        sa.UniqueConstraint('uuid', name='uniq_nodes0uuid'),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_nodes_project_id', 'nodes', ['project_id'])
    op.create_index('ix_nodes_image_id', 'nodes', ['image_id'])
