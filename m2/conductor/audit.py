"""The audit: compare the database with storage, iSCSI targets and boot files.

*Orphans* are pieces m2 made (recognised by their ``uid``-prefixed names)
that no row accounts for; *missing* pieces are ones an active row needs but
the backend lacks. Rows with an operation in flight are left alone both
ways. ``fix`` removes orphans and restores what can be restored (targets and
boot files of active nodes); a missing disk cannot be restored and is only
reported.
"""

import logging

from m2.common import exception, states
from m2.conductor import naming
from m2.conductor import steps as steps_mod

LOG = logging.getLogger(__name__)

# Node states whose disk, target and boot files must all exist.
_NODE_HAS_RESOURCES = (states.ACTIVE, states.SNAPSHOTTING)


class Auditor:
    def __init__(self, db, drivers):
        self.db = db
        self.storage = drivers['storage']
        self.iscsi = drivers['iscsi']
        self.boot = drivers['boot']

    def _expected(self):
        """What the database says should exist, and what must not be touched."""
        expected = {'storage': set(), 'targets': {}, 'macs': {}}
        busy = {'storage': set(), 'targets': set(), 'macs': set(), 'snapshots': set()}
        for image in self.db.list_images():
            # Also rows whose rollback is pending: their journal accounts for
            # what they left, and the conductor finishes undoing it.
            in_flight = image.reservation is not None or image.task is not None
            if in_flight:
                busy['storage'].add(image.storage_name)
                busy['snapshots'].add(naming.temp_snapshot_name('img', image.id))
                dest = (image.task_data or {}).get('dest')
                if dest:
                    busy['storage'].add(dest)
            elif image.status == states.ACTIVE:
                expected['storage'].add(image.storage_name)
        for node in self.db.list_nodes():
            in_flight = (node.reservation is not None or node.task is not None
                         or node.provision_state == states.DEPROVISION_FAILED)
            if in_flight:
                busy['storage'].add(node.disk_name)
                busy['targets'].add(node.target_iqn)
                busy['macs'].add(node.mac)
            elif node.provision_state in _NODE_HAS_RESOURCES:
                expected['storage'].add(node.disk_name)
                expected['targets'][node.target_iqn] = node
                expected['macs'][node.mac] = node
        return expected, busy

    def run(self, fix=False):
        """Return the report; with ``fix``, also repair what it found."""
        expected, busy = self._expected()
        report = {'storage': {'orphans': [], 'missing': []},
                  'snapshots': {'orphans': []},
                  'targets': {'orphans': [], 'missing': []},
                  'boot_files': {'orphans': [], 'missing': []},
                  'rollbacks_pending': self._pending_rollbacks(),
                  'fixed': [], 'errors': []}

        present = set(self.storage.list_images())
        own = {n for n in present if naming.is_own_storage_name(n)}
        report['storage']['orphans'] = sorted(own - expected['storage'] - busy['storage'])
        report['storage']['missing'] = sorted(expected['storage'] - present)
        for name in sorted(present):
            for snap in self.storage.list_snapshots(name):
                if (snap['name'].startswith(naming.TEMP_SNAPSHOT_PREFIX)
                        and snap['name'] not in busy['snapshots']):
                    report['snapshots']['orphans'].append('%s@%s' % (name, snap['name']))

        targets = {t['iqn'] for t in self.iscsi.list_targets()}
        own_targets = {t for t in targets if naming.is_own_iqn(t)}
        report['targets']['orphans'] = sorted(own_targets - set(expected['targets'])
                                              - busy['targets'])
        report['targets']['missing'] = sorted(set(expected['targets']) - targets)

        macs = set(self.boot.list_nodes())
        report['boot_files']['orphans'] = sorted(macs - set(expected['macs']) - busy['macs'])
        report['boot_files']['missing'] = sorted(set(expected['macs']) - macs)

        if fix:
            self._fix(report, expected)
        report['clean'] = not report['rollbacks_pending'] and not any(
            section.get(key) for section in (report['storage'], report['snapshots'],
                                             report['targets'], report['boot_files'])
            for key in ('orphans', 'missing') if key in section)
        return report

    def _pending_rollbacks(self):
        rows = [('image', r) for r in self.db.list_pending_rollbacks('image')]
        rows += [('node', r) for r in self.db.list_pending_rollbacks('node')]
        return sorted('%s %s: %s (steps left: %s)' % (kind, row.name, row.task,
                                                     ', '.join(row.task_steps or []))
                      for kind, row in rows)

    def _attempt(self, report, what, func, *args):
        try:
            func(*args)
            report['fixed'].append(what)
        except exception.M2Exception as exc:
            LOG.warning('Audit could not %s: %s', what, exc)
            report['errors'].append('%s: %s' % (what, exc))

    def _fix(self, report, expected):
        targets, boot_files = report['targets'], report['boot_files']
        for iqn in targets['orphans']:
            self._attempt(report, 'delete target %s' % iqn, self.iscsi.delete_target, iqn)
        for mac in boot_files['orphans']:
            self._attempt(report, 'remove boot files of %s' % mac, self.boot.clean,
                          {'name': None, 'mac': mac})
        for item in report['snapshots']['orphans']:
            name, snap = item.split('@', 1)
            self._attempt(report, 'remove snapshot %s' % item, steps_mod.drop_snapshot,
                          self.storage, name, snap)
        for name in report['storage']['orphans']:
            self._attempt(report, 'remove storage image %s' % name,
                          steps_mod.remove_image_and_snapshots, self.storage, name)
        for iqn in targets['missing']:
            node = expected['targets'][iqn]
            if node.disk_name in report['storage']['missing']:
                continue
            self._attempt(report, 'restore target %s' % iqn, steps_mod.export_disk,
                          self.storage, self.iscsi, node)
        for mac in boot_files['missing']:
            node = expected['macs'][mac]
            self._attempt(report, 'restore boot files of %s' % node.name, self.boot.prepare,
                          steps_mod.boot_info(node))
        if report['fixed']:
            # What was fixed is no longer wrong: report the state after fixing.
            after = self.run(fix=False)
            for key in ('storage', 'snapshots', 'targets', 'boot_files', 'rollbacks_pending'):
                report[key] = after[key]

    def restore_targets(self, owned=None):
        """Re-create every active node's missing target; return the IQNs.

        ``owned(node)``, when given, limits that to the nodes it accepts.
        """
        expected, _ = self._expected()
        present = {t['iqn'] for t in self.iscsi.list_targets()}
        restored = []
        for iqn, node in expected['targets'].items():
            if iqn in present or (owned is not None and not owned(node)):
                continue
            try:
                steps_mod.export_disk(self.storage, self.iscsi, node)
                restored.append(iqn)
                LOG.warning('Restored missing iSCSI target %s of node %s', iqn, node.name)
            except exception.M2Exception as exc:
                LOG.error('Could not restore target %s of node %s: %s', iqn, node.name, exc)
        return restored
