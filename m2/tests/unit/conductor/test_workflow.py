"""The step runner: journal, rollback order, failures during rollback."""

from m2.common import exception
from m2.conductor import workflow
from m2.tests import base


class Recorder:
    def __init__(self):
        self.calls = []
        self.journal = []

    def step(self, name, fail=False, undo_fails=False, undo=True):
        def do():
            self.calls.append('do ' + name)
            if fail:
                raise exception.BackendError(backend='test', reason=name)

        def undo_():
            self.calls.append('undo ' + name)
            if undo_fails:
                raise exception.BackendError(backend='test', reason='undo ' + name)

        return workflow.Step(name, do, undo_ if undo else None)

    def record(self, done):
        self.journal.append(list(done))


class TestWorkflow(base.TestCase):
    def test_runs_in_order_and_journals_each_step(self):
        r = Recorder()
        wf = workflow.Workflow('t', [r.step('a'), r.step('b'), r.step('c')], r.record)
        self.assertEqual(['a', 'b', 'c'], wf.run())
        self.assertEqual(['do a', 'do b', 'do c'], r.calls)
        self.assertEqual([['a'], ['a', 'b'], ['a', 'b', 'c']], r.journal)

    def test_skips_steps_already_done(self):
        r = Recorder()
        wf = workflow.Workflow('t', [r.step('a'), r.step('b')], r.record)
        wf.run(done=['a'])
        self.assertEqual(['do b'], r.calls)

    def test_failure_undoes_done_steps_newest_first_including_the_failed_one(self):
        r = Recorder()
        wf = workflow.Workflow('t', [r.step('a'), r.step('b', undo=False), r.step('c'),
                                     r.step('d', fail=True), r.step('e')], r.record)
        self.assertRaises(exception.BackendError, wf.run)
        self.assertEqual(['do a', 'do b', 'do c', 'do d', 'undo d', 'undo c', 'undo a'],
                         r.calls)
        self.assertEqual([], r.journal[-1])

    def test_failed_undo_stops_and_keeps_the_rest_in_the_journal(self):
        r = Recorder()
        wf = workflow.Workflow('t', [r.step('a'), r.step('b', undo_fails=True),
                                     r.step('c', fail=True)], r.record)
        exc = self.assertRaises(workflow.RollbackIncomplete, wf.run)
        self.assertEqual(['do a', 'do b', 'do c', 'undo c', 'undo b'], r.calls)
        # The message says why the operation failed and why undoing it stopped.
        self.assertEqual('step c failed: test failed: c; rollback stopped at step b: '
                         'test failed: undo b', str(exc))
        self.assertIsInstance(exc.__cause__, exception.BackendError)
        self.assertEqual(['a', 'b'], r.journal[-1])

    def test_rollback_of_a_journal(self):
        r = Recorder()
        wf = workflow.Workflow('t', [r.step('a'), r.step('b'), r.step('c')], r.record)
        self.assertEqual([], wf.rollback(['a', 'b']))
        self.assertEqual(['undo b', 'undo a'], r.calls)

    def test_duplicate_step_names_are_refused(self):
        r = Recorder()
        self.assertRaises(ValueError, workflow.Workflow, 't', [r.step('a'), r.step('a')],
                          r.record)
