"""Operations as ordered steps, each with its undo, journaled as they complete.

A ``Workflow`` runs its steps in order and calls ``record(done)`` after each
one, so the database always says which steps took effect. When a step
fails, the done steps are undone in reverse order (and the journal shrinks
with each undo); a conductor restarted after a crash builds the same
workflow from the row and calls ``rollback(done)`` with the journal it finds.
Steps and undos must be idempotent: either may be repeated after a crash
between the action and its journal entry.
"""

import logging

from m2.common import exception

LOG = logging.getLogger(__name__)


class Step:
    """One named action and its undo (None when nothing needs undoing)."""

    def __init__(self, name, do, undo=None):
        self.name = name
        self.do = do
        self.undo = undo

    def __repr__(self):
        return 'Step(%s)' % self.name


class RollbackIncomplete(exception.M2Exception):
    msg_fmt = 'rollback stopped at step %(step)s: %(reason)s'


class Workflow:
    """Run ``steps`` with a journal; undo exactly what was done on failure."""

    def __init__(self, name, steps, record):
        self.name = name
        self.steps = list(steps)
        self.record = record
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise ValueError('duplicate step names in %s: %s' % (name, names))

    def run(self, done=()):
        """Run every step not in ``done``; on failure roll back and re-raise.

        :returns: the journal (every step name).
        :raises: the step's exception, after the rollback; if the rollback
            itself fails, ``RollbackIncomplete`` chained to the step's error.
        """
        done = list(done)
        for step in self.steps:
            if step.name in done:
                continue
            try:
                LOG.debug('%s: step %s', self.name, step.name)
                step.do()
            except Exception as exc:
                LOG.warning('%s failed at step %s: %s', self.name, step.name, exc)
                # The failed step may have half-happened: undo it too (undos
                # are idempotent, so undoing something that never happened
                # is harmless).
                try:
                    self.rollback(done + [step.name], record_first=False)
                except RollbackIncomplete as incomplete:
                    # Say why the operation failed, not only why undoing it did.
                    raise RollbackIncomplete(
                        'step %s failed: %s; %s' % (step.name, exc, incomplete),
                        **incomplete.kwargs) from exc
                raise
            done.append(step.name)
            self.record(list(done))
        return done

    def rollback(self, done, record_first=True):
        """Undo the steps named in ``done``, newest first.

        :raises RollbackIncomplete: an undo failed; the journal then still
            lists the steps that were not undone.
        """
        done = list(done)
        if record_first:
            self.record(list(done))
        for step in reversed(self.steps):
            if step.name not in done:
                continue
            if step.undo is not None:
                try:
                    LOG.debug('%s: undo %s', self.name, step.name)
                    step.undo()
                except Exception as exc:
                    LOG.error('%s: undo of %s failed: %s', self.name, step.name, exc)
                    self.record(list(done))
                    raise RollbackIncomplete(step=step.name, reason=exc)
            done.remove(step.name)
            self.record(list(done))
        return done
