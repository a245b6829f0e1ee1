"""The scale-out shape: m2-api and m2-conductor apart, over oslo.messaging (RabbitMQ)."""

import socket
import time
import uuid

from tooz import hashring

from m2.tests.functional import base

RABBIT = ('127.0.0.1', 5672)


def _rabbit_listening():
    try:
        with socket.create_connection(RABBIT, timeout=1):
            return True
    except OSError:
        return False


def messaging_conf(**defaults):
    """Server config for m2-api and m2-conductor apart, on a topic of their own."""
    return {
        'DEFAULT': dict({'transport_url': 'rabbit://guest:guest@%s:%d/' % RABBIT}, **defaults),
        'conductor': {'transport': 'messaging', 'topic': 'm2-test-%s' % uuid.uuid4().hex[:8]},
    }


class RabbitTest(base.FunctionalTest):
    """A private server using the RabbitMQ on loopback (skips loudly without it)."""

    private_server = True

    def setUp(self):
        if not _rabbit_listening():
            self.skipTest('NO RABBITMQ on %s:%d: the oslo.messaging transport is untested '
                          '(start rabbitmq-server)' % RABBIT)
        super().setUp()


class TestScaleOut(RabbitTest):
    services = ('m2-conductor', 'm2-api')
    server_conf = messaging_conf()

    def test_operations_and_errors_cross_the_bus(self):
        project = self.make_project()
        image, _, data = self.import_image(project)
        self.assertEqual('active', image['status'])
        node = self.provision(project, image['id'])
        self.assertEqual('active', node['provision_state'])
        with open(self.storage_path(node['disk']), 'rb') as f:
            self.assertEqual(data, f.read())
        # Domain errors raised in the conductor keep their class and status.
        body = self.api('DELETE', '/v1/images/%s' % image['id'], expect=409)
        self.assertIn(node['name'], body['error']['message'])
        self.api('GET', '/v1/nodes/nope', expect=404)
        self.api('POST', '/v1/projects', {'name': project}, expect=409)
        self.api('DELETE', '/v1/nodes/%s' % node['name'], expect=202)
        self.server.wait_for('/v1/nodes/%s' % node['name'], gone=True)
        self.assert_audit_clean()


class TestNoConductor(RabbitTest):
    """m2-api with nobody consuming its topic answers 503, not 500 or a hang."""

    services = ('m2-api',)
    server_conf = messaging_conf(rpc_response_timeout='2')

    def test_call_without_a_conductor_is_503(self):
        body = self.api('GET', '/v1/projects', expect=503)
        message = body['error']['message']
        self.assertIn('m2-conductor (topic %s)' % self.server_conf['conductor']['topic'],
                      message)
        self.assertIn('no conductor answered within 2 s', message)


class TestHashRing(RabbitTest):
    """Two conductors: each node goes to its owner; a dead one's go to the other."""

    services = ('m2-conductor@c1', 'm2-conductor@c2', 'm2-api')
    server_conf = messaging_conf()
    server_conf['conductor'].update(heartbeat_interval='1', heartbeat_timeout='3',
                                    hash_ring_reset_interval='1')

    def handled_by(self, node):
        """The conductors whose log says they provisioned ``node``."""
        line = 'Node %s is provisioned' % node
        hosts = set()
        for host in ('c1', 'c2'):
            with open(self.server.service_log('m2-conductor@' + host)) as f:
                if line in f.read():
                    hosts.add(host)
        return hosts

    def test_nodes_go_to_their_owner_then_to_the_survivor(self):
        ring = hashring.HashRing({'c1', 'c2'}, partitions=2 ** 5)

        def owner(name):
            return next(iter(ring.get_nodes(name.encode())))

        project = self.make_project()
        image, _, _ = self.import_image(project)
        names = ['ring-%d' % i for i in range(8)]
        self.assertEqual({'c1', 'c2'}, {owner(n) for n in names})
        for name in names:
            self.provision(project, image['id'], name=name)
            self.assertEqual({owner(name)}, self.handled_by(name))
        listed = self.api('GET', '/v1/conductors', expect=200)['conductors']
        self.assertEqual([('c1', True), ('c2', True)],
                         [(c['hostname'], c['alive']) for c in listed])

        # c2 dies: once it is seen dead, its nodes are c1's.
        self.server.processes[1].kill()
        self.server.processes[1].wait(10)
        deadline = time.monotonic() + 30
        while any(c['alive'] for c in self.api('GET', '/v1/conductors')['conductors']
                  if c['hostname'] == 'c2'):
            self.assertLess(time.monotonic(), deadline, 'c2 never seen dead')
            time.sleep(0.5)
        time.sleep(1.5)  # the API's ring is rebuilt every second
        late = next(n for n in ('late-%d' % i for i in range(50)) if owner(n) == 'c2')
        self.provision(project, image['id'], name=late)
        self.assertEqual({'c1'}, self.handled_by(late))
        for name in names:
            if owner(name) == 'c2':
                self.api('DELETE', '/v1/nodes/%s' % name, expect=202)
                self.server.wait_for('/v1/nodes/%s' % name, gone=True)
        self.assert_audit_clean()
