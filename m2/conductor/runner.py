"""Running operations: worker threads, journaled workflows, recovery.

The manager checks a request and takes the resource's lock; the runner then
builds the operation's steps (``m2.conductor.steps``) from the row, runs them
in a worker thread with their journal, and records the outcome. After a
crash it rolls back what this host was running, and it finishes rollbacks
that failed earlier (a backend was down).
"""

import concurrent.futures
import logging
import os
import threading

from m2.common import exception, states
from m2.conductor import naming
from m2.conductor import steps as steps_mod
from m2.conductor import workflow as workflow_mod
from m2.conductor.workflow import Workflow
from m2.conf import CONF

LOG = logging.getLogger(__name__)


class OperationRunner:
    """Runs the workflows of one conductor host."""

    def __init__(self, db, drivers, host):
        self.db = db
        self.drivers = drivers
        self.host = host
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=CONF.conductor.workers, thread_name_prefix='m2-op')
        self._futures = set()
        self._futures_lock = threading.Lock()

    def stop(self, wait=True):
        self._executor.shutdown(wait=wait)

    def wait_idle(self, timeout=None):
        """Wait for running operations (tests, graceful stop)."""
        with self._futures_lock:
            pending = list(self._futures)
        concurrent.futures.wait(pending, timeout=timeout)

    def _spawn(self, func, *args):
        future = self._executor.submit(self._guard, func, *args)
        with self._futures_lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future):
        with self._futures_lock:
            self._futures.discard(future)

    @staticmethod
    def _guard(func, *args):
        try:
            func(*args)
        except Exception:
            LOG.exception('Operation %s crashed', getattr(func, '__name__', func))

    # Running workflows

    def start(self, row, kind, data):
        """Record the operation's plan and run it in a worker thread."""
        workflow = self._workflow(kind, row, data)
        data = dict(data, steps=[s.name for s in workflow.steps])
        row = self._update(kind, row.id, {'task_data': data})
        self._spawn(self._run, kind, row.id)
        return row

    def _update(self, kind, row_id, values):
        return getattr(self.db, 'update_%s' % kind)(row_id, values)

    def _get(self, kind, row_id):
        return getattr(self.db, 'get_%s' % kind)(row_id)

    def _journal(self, kind, row_id):
        return lambda done: self._update(kind, row_id, {'task_steps': done})

    def _workflow(self, kind, row, data=None):
        data = row.task_data if data is None else data
        build = getattr(self, '_steps_%s_%s' % (kind, row.task))
        return Workflow('%s %s of %s' % (kind, row.task, row.name), build(row, data),
                        self._journal(kind, row.id))

    def _run(self, kind, row_id):
        row = self._get(kind, row_id)
        workflow = self._workflow(kind, row)
        try:
            workflow.run(row.task_steps)
        except Exception as exc:
            LOG.error('%s %s failed: %s', row.task, row.name, exc)
            row = self._get(kind, row_id)
            pending = row.task_steps if isinstance(exc, workflow_mod.RollbackIncomplete) else None
            self._finish(kind, row, error=_message(exc), pending=pending)
        else:
            self._finish(kind, self._get(kind, row_id))

    def _finish(self, kind, row, error=None, pending=None):
        """Record the outcome; ``pending`` lists steps a failed rollback left."""
        getattr(self, '_finish_%s_%s' % (kind, row.task))(row, error, pending)

    def recover(self):
        """Roll back every operation this host was running when it died."""
        self._recover_host(self.host, 'interrupted by a conductor restart')

    def take_over(self, dead_hosts):
        """Roll back what conductors that stopped heartbeating were running."""
        for host in dead_hosts:
            if host != self.host:
                self._recover_host(host, 'interrupted: conductor %s stopped' % host)

    def _recover_host(self, host, why):
        # Images first: a node snapshot's workflow lives on the new image and
        # releases the node when it is rolled back.
        for kind in ('image', 'node'):
            for row in self.db.list_reserved(kind, host):
                if host != self.host:
                    row = self.db.take_over(kind, row.id, host, self.host)
                    if row is None:  # another conductor took it, or it finished
                        continue
                self._recover_row(kind, row, why)

    def _recover_row(self, kind, row, why):
        if row.task == 'move' or (kind == 'node' and row.task == 'snapshot'):
            # Nothing outside the database to undo.
            self.db.release(kind, row.id, {'provision_state': states.ACTIVE}
                            if kind == 'node' else {})
            return
        LOG.warning('Rolling back %s of %s %s, %s (steps done: %s)',
                    row.task, kind, row.name, why, row.task_steps)
        self._roll_back(kind, row, why)

    def _roll_back(self, kind, row, why):
        """Undo ``row``'s journal; keep what could not be undone for later."""
        pending = None
        reason = '%s; rolled back' % why
        if row.task_steps:
            try:
                self._workflow(kind, row).rollback(row.task_steps)
            except Exception as exc:
                reason = '%s; rollback stopped: %s' % (why, _message(exc))
                pending = self._get(kind, row.id).task_steps
        self._finish(kind, self._get(kind, row.id), error=reason, pending=pending)

    def retry_rollbacks(self):
        """Finish the rollbacks that failed earlier (a backend was down)."""
        for kind in ('image', 'node'):
            for row in self.db.list_pending_rollbacks(kind):
                row = self.db.reserve_pending_rollback(kind, row.id, self.host)
                if row is None:
                    continue
                LOG.info('Retrying the rollback of %s of %s %s (steps left: %s)',
                         row.task, kind, row.name, row.task_steps)
                self._roll_back(kind, row, row.last_error or '%s failed' % row.task)

    # Workflow builders per (kind, task), and what success or failure leaves

    def _steps_image_import(self, image, data):
        return steps_mod.storage_copy_steps(
            self.drivers['storage'], data['source'], data.get('source_snapshot'),
            image.storage_name, naming.temp_snapshot_name('img', image.id),
            snapshot_was_protected=data.get('snapshot_was_protected', True))

    def _steps_image_copy(self, image, data):
        source = self.db.get_image(data['source_image_id'])
        return steps_mod.storage_copy_steps(self.drivers['storage'], source.storage_name,
                                            CONF.storage.snapshot_name, image.storage_name,
                                            None)

    def _steps_image_snapshot(self, image, data):
        node = self.db.get_node(data['node_id'])
        return steps_mod.storage_copy_steps(
            self.drivers['storage'], node.disk_name, None, image.storage_name,
            naming.temp_snapshot_name('img', image.id))

    def _steps_image_upload(self, image, data):
        staging = data['staging_path']
        raw = staging + '.raw'
        steps = []
        source = staging
        if data.get('disk_format') == 'qcow2':
            steps += steps_mod.convert_steps(staging, raw)
            source = raw
        return steps + steps_mod.upload_steps(self.drivers['storage'], image, source)

    def _steps_image_export(self, image, data):
        return steps_mod.export_steps(self.drivers['storage'], image, data['dest'])

    def _steps_image_delete(self, image, data):
        return steps_mod.delete_image_steps(self.drivers['storage'], image)

    def _finish_image_created(self, image, error, pending=None):
        if error is None:
            size = self.drivers['storage'].get_size(image.storage_name)
            self.db.release('image', image.id, {'status': states.ACTIVE, 'size': size,
                                                'last_error': None})
            LOG.info('Image %s (%s) is active', image.name, image.uuid)
        else:
            self.db.release('image', image.id, {'status': states.ERROR, 'last_error': error},
                            pending_rollback=pending)

    _finish_image_import = _finish_image_created
    _finish_image_copy = _finish_image_created

    def _finish_image_snapshot(self, image, error, pending=None):
        node_id = (image.task_data or {}).get('node_id')
        self._finish_image_created(image, error, pending)
        if node_id is not None:
            self.db.release('node', node_id, {'provision_state': states.ACTIVE})

    def _finish_image_upload(self, image, error, pending=None):
        staging = (image.task_data or {}).get('staging_path')
        if staging:
            remove_quietly(staging)
            remove_quietly(staging + '.raw')
        self._finish_image_created(image, error, pending)

    def _finish_image_export(self, image, error, pending=None):
        self.db.release('image', image.id, {'last_error': error}, pending_rollback=pending)

    def _finish_image_delete(self, image, error, pending=None):
        if error is None:
            self.db.delete_image(image.id)
            LOG.info('Deleted image %s (%s)', image.name, image.uuid)
        else:
            previous = (image.task_data or {}).get('previous_status', states.ACTIVE)
            self.db.release('image', image.id, {'status': previous, 'last_error': error},
                            pending_rollback=pending)

    def _steps_node_provision(self, node, data):
        image = self.db.get_image(node.image_id)
        project = self.db.get_project(node.project_id)

        def record_target(info):
            self.db.update_node(node.id, {'target_portals': info['portals'],
                                          'target_lun': info['lun']})

        return steps_mod.provision_steps(self.drivers, node, image, project, record_target)

    def _steps_node_deprovision(self, node, data):
        project = self.db.get_project(node.project_id)
        restorable = data.get('previous_state') == states.ACTIVE
        return steps_mod.deprovision_steps(self.drivers, node, project, restorable)

    def _finish_node_provision(self, node, error, pending=None):
        if error is None:
            self.db.release('node', node.id, {'provision_state': states.ACTIVE,
                                              'last_error': None})
            LOG.info('Node %s is provisioned', node.name)
        else:
            self.db.release('node', node.id, {'provision_state': states.ERROR,
                                              'last_error': error}, pending_rollback=pending)

    def _finish_node_deprovision(self, node, error, pending=None):
        if error is None:
            self.db.delete_node(node.id)
            LOG.info('Node %s is deprovisioned', node.name)
            return
        previous = (node.task_data or {}).get('previous_state', states.ACTIVE)
        restored = not node.task_steps
        state = previous if restored else states.DEPROVISION_FAILED
        self.db.release('node', node.id, {'provision_state': state, 'last_error': error},
                        pending_rollback=pending)


def _message(exc):
    if isinstance(exc, exception.M2Exception):
        return exc.message
    return '%s: %s' % (type(exc).__name__, exc)


def remove_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass
