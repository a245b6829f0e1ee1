"""Conductor heartbeats and the takeover of a dead conductor's operations."""

import datetime

from oslo_utils import timeutils
from sqlalchemy import update

from m2.common import states
from m2.conductor import manager as conductor_manager
from m2.db.sqlalchemy import api as db_api
from m2.db.sqlalchemy import models
from m2.tests import base


def age_conductor(host, seconds):
    """Pretend ``host`` last heartbeat ``seconds`` ago."""
    when = timeutils.utcnow() - datetime.timedelta(seconds=seconds)
    with db_api._writer() as session:
        session.execute(update(models.Conductor).where(models.Conductor.hostname == host)
                        .values(heartbeat_at=when))


class ConductorTestCase(base.TestCase):
    def setUp(self):
        super().setUp()
        self.useFixture(base.Database(self.state_path))
        self.db = db_api.Connection()

    def age(self, host, seconds):
        age_conductor(host, seconds)

    def reserved_node(self, host, task='provision'):
        project = self.db.create_project({'name': 'p'})
        node = self.db.create_node({'uuid': 'u-1', 'name': 'n1', 'project_id': project.id,
                                    'nic_label': 'eth0',
                                    'provision_state': states.PROVISIONING})
        return self.db.reserve('node', node.id, host, task)


class TestConductorRegistry(ConductorTestCase):

    def test_silent_or_offline_conductors_are_dead(self):
        for host in ('alive', 'silent', 'stopped'):
            self.db.register_conductor(host)
        self.age('silent', 61)
        self.age('alive', 59)
        self.db.unregister_conductor('stopped')
        self.assertEqual(['silent', 'stopped'],
                         sorted(self.db.list_dead_conductors(timeout=60)))
        self.assertEqual(['alive'], self.db.list_live_conductors(timeout=60))

    def test_heartbeat_brings_a_conductor_back(self):
        self.db.register_conductor('c1')
        self.age('c1', 120)
        self.db.unregister_conductor('c1')
        self.assertTrue(self.db.heartbeat_conductor('c1'))
        self.assertEqual([], self.db.list_dead_conductors(timeout=60))
        self.db.register_conductor('c1')  # again: still one row
        self.assertEqual(['c1'], [c.hostname for c in self.db.list_conductors()])

    def test_heartbeat_of_an_unknown_host_says_so(self):
        self.assertFalse(self.db.heartbeat_conductor('never-registered'))

    def test_take_over_is_won_once(self):
        node = self.reserved_node('dead')
        taken = self.db.take_over('node', node.id, 'dead', 'c1')
        self.assertEqual('c1', taken.reservation)
        self.assertEqual('provision', taken.task)
        self.assertIsNone(self.db.take_over('node', node.id, 'dead', 'c2'))
        self.assertEqual('c1', self.db.get_node(node.id).reservation)


class TestManagerTakeover(ConductorTestCase):
    def setUp(self):
        super().setUp()
        self.config(group='conductor', heartbeat_timeout=60)
        self.manager = conductor_manager.ConductorManager(host='live')
        self.manager.start()
        self.addCleanup(self.manager.stop, True)

    def test_dead_conductors_operation_is_rolled_back(self):
        self.db.register_conductor('dead')
        node = self.reserved_node('dead')
        self.manager.take_over_dead()
        self.assertEqual('dead', self.db.get_node(node.id).reservation, 'taken too early')
        self.age('dead', 61)
        self.manager.take_over_dead()
        node = self.db.get_node(node.id)
        self.assertIsNone(node.reservation)
        self.assertIsNone(node.task)
        self.assertEqual(states.ERROR, node.provision_state)
        self.assertIn('interrupted: conductor dead stopped', node.last_error)

    def test_a_live_conductor_is_never_taken_over(self):
        self.db.register_conductor('other')
        node = self.reserved_node('other')
        self.age('other', 30)
        self.manager.take_over_dead()
        self.assertEqual('other', self.db.get_node(node.id).reservation)

    def test_clean_stop_marks_the_conductor_offline(self):
        self.assertEqual([], self.db.list_dead_conductors(timeout=60))
        self.manager.stop(wait=True)
        self.assertEqual(['live'], self.db.list_dead_conductors(timeout=60))
