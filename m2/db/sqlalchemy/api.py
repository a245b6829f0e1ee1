"""The SQLAlchemy implementation of ``m2.db.api`` on oslo.db's enginefacade."""

import datetime
import logging
import threading

from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import enginefacade
from oslo_utils import timeutils
from sqlalchemy import event, not_, or_, update

from m2.common import exception, states
from m2.db.sqlalchemy import models

LOG = logging.getLogger(__name__)

_CONTEXT = threading.local()
_facade_configured = False
_engine_prepared = False


def _configure():
    global _facade_configured
    if not _facade_configured:
        enginefacade.configure(sqlite_fk=True)
        _facade_configured = True


def setup():
    """Start the database engine; services call this once CONF is parsed.

    On SQLite it also makes concurrent transactions wait for each other
    (see ``_serialize_sqlite_writers``).
    """
    global _engine_prepared
    _configure()
    engine = enginefacade.writer.get_engine()
    if not _engine_prepared and engine.dialect.name == 'sqlite':
        _serialize_sqlite_writers(engine)
    _engine_prepared = True
    return engine


def _serialize_sqlite_writers(engine):
    """Make concurrent transactions on SQLite wait for each other.

    pysqlite begins transactions lazily (DEFERRED): a transaction that read
    and then writes must upgrade its lock, and SQLite answers "database is
    locked" at once, without waiting, when another writer holds it. The
    embedded default runs operations in worker threads, so every transaction
    takes the write lock when it begins (BEGIN IMMEDIATE) and waits up to
    busy_timeout for it. oslo.db already turns pysqlite's own BEGIN off
    (SQLAlchemy's documented pysqlite recipe); we only make it IMMEDIATE.
    """
    @event.listens_for(engine, 'connect')
    def _connect(dbapi_connection, connection_record):
        cursor = dbapi_connection.cursor()
        cursor.execute('PRAGMA busy_timeout = 30000')
        if engine.url.database not in (None, '', ':memory:'):
            cursor.execute('PRAGMA journal_mode = WAL')
        cursor.close()

    def _begin(connection):
        if 'in_transaction' not in connection.info:
            connection.exec_driver_sql('BEGIN IMMEDIATE')
            connection.info['in_transaction'] = True

    # Ours must run ahead of oslo.db's own listener, which emits a DEFERRED
    # "BEGIN" unless conn.info says a transaction is open: re-register its
    # listeners after ours (listen(insert=True) does not order them here).
    theirs = list(engine.dispatch.begin)
    for listener in theirs:
        event.remove(engine, 'begin', listener)
    event.listen(engine, 'begin', _begin)
    for listener in theirs:
        event.listen(engine, 'begin', listener)


def _reader():
    _configure()
    return enginefacade.reader.using(_CONTEXT)


def _writer():
    _configure()
    return enginefacade.writer.using(_CONTEXT)


def get_engine():
    _configure()
    return enginefacade.writer.get_engine()


def dispose():
    """Drop pooled connections (after a fork, or between tests)."""
    global _facade_configured
    if _facade_configured:
        enginefacade.writer.get_engine().dispose()


# Image statuses during which the image is being made from its parent.
_BEING_MADE = tuple(sorted(states.IMAGE_TRANSITIONAL - {states.DELETING}))

_MODELS = {'project': models.Project, 'image': models.Image, 'node': models.Node}
_NOT_FOUND = {'project': (exception.ProjectNotFound, 'project'),
              'image': (exception.ImageNotFound, 'image'),
              'node': (exception.NodeNotFound, 'node')}


def _not_found(kind, ident):
    exc_class, field = _NOT_FOUND[kind]
    return exc_class(**{field: ident})


def _dead_conductor(timeout):
    """The condition of a conductor row that no longer counts as alive."""
    model = models.Conductor
    limit = timeutils.utcnow() - datetime.timedelta(seconds=timeout)
    return or_(model.online.is_(False), model.heartbeat_at < limit)


class Connection:
    """Every query m2 makes; returns detached model objects."""

    # Projects

    def create_project(self, values):
        try:
            with _writer() as session:
                project = models.Project(**values)
                session.add(project)
                session.flush()
                return project
        except db_exc.DBDuplicateEntry:
            raise exception.ProjectExists(project=values.get('name'))

    def get_project(self, ident):
        """Project by name, numeric id or Keystone project id."""
        with _reader() as session:
            query = session.query(models.Project)
            clauses = [models.Project.name == str(ident),
                       models.Project.keystone_project_id == str(ident)]
            if isinstance(ident, int) or str(ident).isdigit():
                clauses.append(models.Project.id == int(ident))
            project = query.filter(or_(*clauses)).order_by(models.Project.id).first()
            if project is None:
                raise _not_found('project', ident)
            return project

    def list_projects(self, keystone_project_id=None):
        with _reader() as session:
            query = session.query(models.Project)
            if keystone_project_id is not None:
                query = query.filter_by(keystone_project_id=keystone_project_id)
            return query.order_by(models.Project.name).all()

    def delete_project(self, project_id):
        with _writer() as session:
            images = session.query(models.Image).filter_by(project_id=project_id).count()
            nodes = session.query(models.Node).filter_by(project_id=project_id).count()
            if images or nodes:
                project = session.get(models.Project, project_id)
                raise exception.ProjectInUse(
                    project=project.name if project else project_id,
                    what='%d image(s) and %d node(s)' % (images, nodes))
            deleted = session.query(models.Project).filter_by(id=project_id).delete()
            if not deleted:
                raise _not_found('project', project_id)

    # Images

    def create_image(self, values):
        try:
            with _writer() as session:
                image = models.Image(**values)
                session.add(image)
                session.flush()
                return self._reload(session, 'image', image.id)
        except db_exc.DBDuplicateEntry:
            raise exception.ImageExists(project=values.get('project_id'),
                                        image=values.get('name'))

    def get_image(self, image_id):
        with _reader() as session:
            return self._get(session, 'image', image_id)

    def get_image_by_uuid(self, uuid):
        with _reader() as session:
            image = session.query(models.Image).filter_by(uuid=uuid).first()
            if image is None:
                raise _not_found('image', uuid)
            return image

    def list_images(self, project_ids=None, include_public=False, name=None, kind=None,
                    status=None):
        """Images of ``project_ids`` (None: every project), plus public ones."""
        with _reader() as session:
            query = session.query(models.Image)
            if project_ids is not None:
                visible = models.Image.project_id.in_(list(project_ids))
                if include_public:
                    visible = or_(visible, models.Image.public.is_(True))
                query = query.filter(visible)
            if name is not None:
                query = query.filter_by(name=name)
            if kind is not None:
                query = query.filter_by(kind=kind)
            if status is not None:
                query = query.filter_by(status=status)
            return query.order_by(models.Image.id).all()

    def update_image(self, image_id, values):
        try:
            return self._update('image', image_id, values)
        except db_exc.DBDuplicateEntry:
            raise exception.ImageExists(project=values.get('project_id'),
                                        image=values.get('name'))

    def delete_image(self, image_id):
        with _writer() as session:
            session.query(models.Image).filter_by(id=image_id).delete()

    def image_dependents(self, image_id):
        """Names of nodes using the image and images being made from it."""
        with _reader() as session:
            nodes = session.query(models.Node.name).filter_by(image_id=image_id).all()
            images = (session.query(models.Image.name)
                      .filter(models.Image.parent_id == image_id,
                              models.Image.status.in_(_BEING_MADE))
                      .all())
            return ['node %s' % n for (n,) in nodes] + ['image %s' % i for (i,) in images]

    # Nodes

    def create_node(self, values):
        try:
            with _writer() as session:
                node = models.Node(**values)
                session.add(node)
                session.flush()
                return self._reload(session, 'node', node.id)
        except db_exc.DBDuplicateEntry:
            raise exception.NodeExists(node=values.get('name'), state='unknown')

    def get_node(self, node_id):
        with _reader() as session:
            return self._get(session, 'node', node_id)

    def get_node_by_name(self, name):
        with _reader() as session:
            node = session.query(models.Node).filter_by(name=name).first()
            if node is None:
                raise _not_found('node', name)
            return node

    def list_nodes(self, project_ids=None, image_id=None):
        with _reader() as session:
            query = session.query(models.Node)
            if project_ids is not None:
                query = query.filter(models.Node.project_id.in_(list(project_ids)))
            if image_id is not None:
                query = query.filter_by(image_id=image_id)
            return query.order_by(models.Node.name).all()

    def update_node(self, node_id, values):
        return self._update('node', node_id, values)

    def delete_node(self, node_id):
        with _writer() as session:
            session.query(models.Node).filter_by(id=node_id).delete()

    # Locks

    def reserve(self, kind, row_id, host, task, values=None):
        """Take the row's lock for ``task``; raise ResourceLocked if held.

        One conditional UPDATE, so it is atomic across threads, processes
        and hosts sharing the database.
        """
        model = _MODELS[kind]
        values = dict(values or {}, reservation=host, task=task, task_steps=[],
                      task_data={}, updated_at=timeutils.utcnow())
        with _writer() as session:
            # A row whose rollback is unfinished keeps its task (and journal)
            # with no reservation: it is not free until that rollback is done.
            result = session.execute(
                update(model).where(model.id == row_id, model.reservation.is_(None),
                                    model.task.is_(None))
                .values(**values).execution_options(synchronize_session=False))
            if result.rowcount != 1:
                row = session.get(model, row_id)
                if row is None:
                    raise _not_found(kind, row_id)
                if row.reservation is None:
                    raise exception.RollbackPending(kind=kind.capitalize(), name=row.name,
                                                    task=row.task)
                raise exception.ResourceLocked(kind=kind.capitalize(), name=row.name,
                                               task=row.task or 'unknown')
            return self._reload(session, kind, row_id)

    def reserve_pending_rollback(self, kind, row_id, host):
        """Take the lock of a row whose rollback is unfinished, keeping its
        journal; return the row, or None if someone else took it."""
        model = _MODELS[kind]
        with _writer() as session:
            result = session.execute(
                update(model).where(model.id == row_id, model.reservation.is_(None),
                                    model.task.isnot(None))
                .values(reservation=host).execution_options(synchronize_session=False))
            if result.rowcount != 1:
                return None
            return self._reload(session, kind, row_id)

    def list_pending_rollbacks(self, kind):
        model = _MODELS[kind]
        with _reader() as session:
            return (session.query(model)
                    .filter(model.reservation.is_(None), model.task.isnot(None)).all())

    def release(self, kind, row_id, values=None, pending_rollback=None):
        """Free the row's lock, writing ``values`` in the same update.

        ``pending_rollback`` (the steps still to undo) keeps the task and its
        journal on the row so the rollback can be finished later.
        """
        values = dict(values or {}, reservation=None)
        if pending_rollback:
            values['task_steps'] = list(pending_rollback)
        else:
            values.update(task=None, task_steps=[], task_data={})
        return self._update(kind, row_id, values)

    def list_reserved(self, kind, host):
        with _reader() as session:
            return session.query(_MODELS[kind]).filter_by(reservation=host).all()

    def take_over(self, kind, row_id, from_host, to_host):
        """Move the row's lock from a dead ``from_host`` to ``to_host``.

        Conditional, so of several live conductors one wins; return the row
        or None if someone else took it (or it was released meanwhile).
        """
        model = _MODELS[kind]
        with _writer() as session:
            result = session.execute(
                update(model).where(model.id == row_id, model.reservation == from_host)
                .values(reservation=to_host).execution_options(synchronize_session=False))
            if result.rowcount != 1:
                return None
            return self._reload(session, kind, row_id)

    # Conductors

    def register_conductor(self, host):
        """Mark ``host`` online with a fresh heartbeat (insert or update)."""
        if self.heartbeat_conductor(host):
            return
        try:
            with _writer() as session:
                session.add(models.Conductor(hostname=host, online=True,
                                             heartbeat_at=timeutils.utcnow()))
        except db_exc.DBDuplicateEntry:  # registered by a racing start
            self.heartbeat_conductor(host)

    def heartbeat_conductor(self, host):
        """Record that ``host`` is alive; False if it never registered."""
        model = models.Conductor
        with _writer() as session:
            result = session.execute(
                update(model).where(model.hostname == host)
                .values(online=True, heartbeat_at=timeutils.utcnow())
                .execution_options(synchronize_session=False))
            return result.rowcount == 1

    def unregister_conductor(self, host):
        """Mark ``host`` offline (a clean stop, nothing left running)."""
        model = models.Conductor
        with _writer() as session:
            session.execute(update(model).where(model.hostname == host).values(online=False)
                            .execution_options(synchronize_session=False))

    def list_conductors(self):
        with _reader() as session:
            return session.query(models.Conductor).order_by(models.Conductor.hostname).all()

    def list_dead_conductors(self, timeout):
        """Hosts offline, or silent for more than ``timeout`` seconds."""
        return self._conductor_hosts(_dead_conductor(timeout))

    def list_live_conductors(self, timeout):
        """Hosts online and heard from within ``timeout`` seconds."""
        return self._conductor_hosts(not_(_dead_conductor(timeout)))

    def _conductor_hosts(self, condition):
        with _reader() as session:
            return [row.hostname for row in session.query(models.Conductor).filter(condition)]

    # Helpers

    def _get(self, session, kind, row_id):
        row = session.get(_MODELS[kind], row_id)
        if row is None:
            raise _not_found(kind, row_id)
        return row

    def _reload(self, session, kind, row_id):
        row = self._get(session, kind, row_id)
        session.refresh(row)
        return row

    def _update(self, kind, row_id, values):
        with _writer() as session:
            row = self._get(session, kind, row_id)
            for key, value in values.items():
                setattr(row, key, value)
            session.flush()
            return self._reload(session, kind, row_id)
