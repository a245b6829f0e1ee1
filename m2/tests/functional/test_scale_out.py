"""The scale-out shape: m2-api and m2-conductor apart, over oslo.messaging (RabbitMQ)."""

import socket
import uuid

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
