"""The hash ring of live conductors: spread, stable, and without the dead."""

from m2.conductor import hash_ring
from m2.db.sqlalchemy import api as db_api
from m2.tests.unit.cli import base as cli_base
from m2.tests.unit.conductor import test_takeover
from m2.tests.unit.conductor.test_takeover import ConductorTestCase

NODES = ['node-%d' % i for i in range(200)]


class TestHashRing(ConductorTestCase):
    def setUp(self):
        super().setUp()
        self.config(group='conductor', heartbeat_timeout=60, hash_ring_reset_interval=0)
        self.ring = hash_ring.HashRing(self.db)

    def owners(self):
        return {name: self.ring.owner(name) for name in NODES}

    def test_nodes_are_spread_over_live_conductors(self):
        for host in ('c1', 'c2', 'c3'):
            self.db.register_conductor(host)
        owners = self.owners()
        counts = {host: list(owners.values()).count(host) for host in ('c1', 'c2', 'c3')}
        self.assertEqual(200, sum(counts.values()))
        for host, count in counts.items():
            self.assertGreater(count, 200 // 3 // 3, 'c%s got too few: %s' % (host, counts))
        # Another process builds the same ring from the same table.
        self.assertEqual(owners, {n: hash_ring.HashRing(db_api.Connection()).owner(n)
                                  for n in NODES})

    def test_a_dead_conductors_nodes_move_and_only_those(self):
        for host in ('c1', 'c2', 'c3'):
            self.db.register_conductor(host)
        before = self.owners()
        self.age('c2', 61)
        after = self.owners()
        self.assertNotIn('c2', after.values())
        moved = {n for n in NODES if before[n] != after[n]}
        self.assertEqual({n for n in NODES if before[n] == 'c2'}, moved)
        self.assertTrue(self.ring.owns('c1', 'node-0') or self.ring.owns('c3', 'node-0'))

    def test_without_live_conductors_nobody_owns(self):
        self.assertIsNone(self.ring.owner('node-0'))
        self.assertTrue(self.ring.owns('anyone', 'node-0'))

    def test_ring_is_cached_until_reset(self):
        self.config(group='conductor', hash_ring_reset_interval=3600)
        self.db.register_conductor('c1')
        self.assertEqual('c1', self.ring.owner('node-0'))
        self.db.unregister_conductor('c1')
        self.db.register_conductor('c2')
        self.assertEqual('c1', self.ring.owner('node-0'))  # cached
        self.ring.reset()
        self.assertEqual('c2', self.ring.owner('node-0'))


class TestSyncTargetsByOwner(cli_base.CLITestCase):
    """Each conductor restores the lost targets of its own nodes only."""

    with_server = True

    def test_sync_restores_owned_targets_then_the_dead_ones(self):
        manager = self.api.manager
        self.config(group='conductor', heartbeat_timeout=60, hash_ring_reset_interval=0)
        self.ok('project', 'create', 'p1')
        self.source_image('src')
        self.ok('image', 'import', 'img1', '--source', 'src', '--project', 'p1')
        names = ['n%d' % i for i in range(8)]
        for name in names:
            self.ok('node', 'provision', name, '--image', 'img1', '--nic', 'eth0',
                    '--project', 'p1')
        iqns = {n.name: n.target_iqn for n in manager.db.list_nodes()}
        manager.db.register_conductor('other')
        mine = {n for n in names if manager.ring.owner(n) == manager.host}
        self.assertTrue(mine and mine != set(names), 'the ring gave %s' % mine)

        iscsi = manager.drivers['iscsi']
        for name in names:  # the target daemon restarted empty
            iscsi.delete_target(iqns[name])
        manager.sync_targets()
        self.assertEqual(sorted(iqns[n] for n in mine),
                         sorted(t['iqn'] for t in iscsi.list_targets()))

        test_takeover.age_conductor('other', 61)  # other died: its nodes are ours now
        manager.sync_targets()
        self.assertEqual(sorted(iqns.values()), sorted(t['iqn'] for t in iscsi.list_targets()))
