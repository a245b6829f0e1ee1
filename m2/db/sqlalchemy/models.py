"""SQLAlchemy models: projects, images, nodes and the conductors serving them.

The schema only ever changes through the Alembic migrations next to this
module; ``m2.tests.unit.db.test_migrations`` keeps the two in agreement.
"""

import json

from oslo_utils import timeutils
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    orm,
)
from sqlalchemy.types import TypeDecorator

Base = orm.declarative_base()


class JSONList(TypeDecorator):
    """A list stored as JSON text (progress journals, portal lists)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return json.dumps(value if value is not None else [])

    def process_result_value(self, value, dialect):
        return json.loads(value) if value else []


class JSONDict(TypeDecorator):
    """A dict stored as JSON text (operation data)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return json.dumps(value if value is not None else {})

    def process_result_value(self, value, dialect):
        return json.loads(value) if value else {}


class TimestampMixin:
    created_at = Column(DateTime, nullable=False, default=timeutils.utcnow)
    updated_at = Column(DateTime, nullable=True, onupdate=timeutils.utcnow)


class TaskMixin:
    """The operation running on a row, its lock and its journal.

    ``reservation`` is the conductor host holding the row's lock (NULL when
    free); ``task`` names the operation; ``task_steps`` lists the steps done
    so far, in order, so a failure or a restarted conductor undoes exactly
    those; ``task_data`` keeps what the steps need to be undone.
    """

    reservation = Column(String(255), nullable=True)
    task = Column(String(32), nullable=True)
    task_steps = Column(JSONList, nullable=True)
    task_data = Column(JSONDict, nullable=True)
    last_error = Column(Text, nullable=True)


class Project(TimestampMixin, Base):
    __tablename__ = 'projects'
    __table_args__ = (UniqueConstraint('name', name='uniq_projects0name'),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(String(63), nullable=False)
    keystone_project_id = Column(String(64), nullable=True, index=True)
    isolator_project = Column(String(255), nullable=True)
    provisioning_network = Column(String(255), nullable=True)


class Image(TimestampMixin, TaskMixin, Base):
    __tablename__ = 'images'
    __table_args__ = (
        UniqueConstraint('project_id', 'name', name='uniq_images0project_id0name'),
        UniqueConstraint('uuid', name='uniq_images0uuid'),
        UniqueConstraint('storage_name', name='uniq_images0storage_name'),
        {'sqlite_autoincrement': True},
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    uuid = Column(String(36), nullable=False)
    name = Column(String(63), nullable=False)
    project_id = Column(Integer, ForeignKey('projects.id'), nullable=False, index=True)
    kind = Column(String(16), nullable=False, default='golden')
    public = Column(Boolean, nullable=False, default=False)
    parent_id = Column(Integer, ForeignKey('images.id', ondelete='SET NULL'), nullable=True)
    source = Column(String(255), nullable=True)
    storage_name = Column(String(255), nullable=True)
    size = Column(BigInteger, nullable=True)
    status = Column(String(16), nullable=False)

    project = orm.relationship(Project, lazy='joined', innerjoin=True)


class Node(TimestampMixin, TaskMixin, Base):
    __tablename__ = 'nodes'
    __table_args__ = (
        UniqueConstraint('name', name='uniq_nodes0name'),
        UniqueConstraint('uuid', name='uniq_nodes0uuid'),
        {'sqlite_autoincrement': True},
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    uuid = Column(String(36), nullable=False)
    name = Column(String(63), nullable=False)
    project_id = Column(Integer, ForeignKey('projects.id'), nullable=False, index=True)
    image_id = Column(Integer, ForeignKey('images.id'), nullable=True, index=True)
    nic_label = Column(String(63), nullable=False)
    mac = Column(String(17), nullable=True)
    disk_name = Column(String(255), nullable=True)
    initiator_iqn = Column(String(223), nullable=True)
    target_iqn = Column(String(223), nullable=True)
    target_portals = Column(JSONList, nullable=True)
    target_lun = Column(Integer, nullable=True)
    chap_username = Column(String(64), nullable=True)
    chap_secret = Column(String(255), nullable=True)
    provision_state = Column(String(32), nullable=False)

    project = orm.relationship(Project, lazy='joined', innerjoin=True)
    image = orm.relationship(Image, lazy='joined')


class Conductor(Base):
    """A conductor process, by ``[DEFAULT] host``, and when it last heartbeat.

    Rows it reserved are taken over by another conductor once it has been
    silent for ``[conductor] heartbeat_timeout`` seconds.
    """

    __tablename__ = 'conductors'
    __table_args__ = (
        UniqueConstraint('hostname', name='uniq_conductors0hostname'),
        {'sqlite_autoincrement': True},
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    hostname = Column(String(255), nullable=False)
    online = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False, default=timeutils.utcnow)
    heartbeat_at = Column(DateTime, nullable=False, default=timeutils.utcnow)
