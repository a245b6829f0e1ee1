"""Functional test base: a real m2-server and helpers to drive it over HTTP."""

import atexit
import os
import uuid

import testtools

from m2.tests.functional import server as server_mod

_SHARED = {}


def shared_server(key='default', conf=None):
    """One server per test process and key (starting one costs seconds)."""
    if key not in _SHARED:
        fixture = server_mod.ServerFixture(conf=conf)
        fixture.setUp()
        atexit.register(fixture.cleanUp)
        _SHARED[key] = fixture
    return _SHARED[key]


def unique(prefix):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


class FunctionalTest(testtools.TestCase):
    """Tests against the shared embedded-default server (file/fake/ipxe)."""

    server_key = 'default'
    server_conf = None
    #: A server of the test's own instead of the shared one.
    private_server = False
    #: The processes a private server runs.
    services = ('m2-server',)

    def setUp(self):
        super().setUp()
        if self.private_server:
            self.server = self.useFixture(server_mod.ServerFixture(conf=self.server_conf,
                                                                   services=self.services))
        else:
            self.server = shared_server(self.server_key, self.server_conf)

    # Shortcuts

    def api(self, method, path, body=None, expect=None, **kwargs):
        status, data = self.server.request(method, path, body, **kwargs)
        if expect is not None:
            self.assertEqual(expect, status, '%s %s -> %s %s' % (method, path, status, data))
        return data

    def source_image(self, size=4 * 1024 * 1024, name=None):
        """Put a storage image (a file) where the file driver keeps images."""
        name = name or unique('src')
        directory = os.path.join(self.server.state_path, 'images')
        os.makedirs(directory, exist_ok=True)
        data = os.urandom(size)
        with open(os.path.join(directory, name), 'wb') as f:
            f.write(data)
        return name, data

    def make_project(self, **extra):
        name = unique('proj')
        body = dict({'name': name, 'provisioning_network': 'net-' + name}, **extra)
        self.api('POST', '/v1/projects', body, expect=201)
        return name

    def import_image(self, project, name=None, wait=True, **extra):
        source, data = self.source_image()
        name = name or unique('img')
        image = self.api('POST', '/v1/images', dict({'name': name, 'project': project,
                                                     'source': source}, **extra), expect=202)
        if wait:
            image = self.server.wait_stable('images', image['id'])
        return image, source, data

    def provision(self, project, image, name=None, wait=True, **extra):
        name = name or unique('node')
        node = self.api('POST', '/v1/nodes', dict({'name': name, 'project': project,
                                                   'image': image, 'nic': 'eno1'}, **extra),
                        expect=202)
        if wait:
            node = self.server.wait_stable('nodes', name)
        return node

    def storage_path(self, name):
        return os.path.join(self.server.state_path, 'images', name)

    def storage_names(self):
        directory = os.path.join(self.server.state_path, 'images')
        return sorted(n for n in os.listdir(directory) if not n.startswith('.'))

    def assert_audit_clean(self):
        report = self.api('GET', '/v1/audit', expect=200)
        self.assertTrue(report['clean'], report)
        return report
