"""A tiny Keystone v3 for the CLI tests: issues a token whose catalog names m2.

Only what keystoneauth's password plugin needs: version discovery at the
auth URL and ``POST /v3/auth/tokens`` answering with ``X-Subject-Token`` and a
catalog built with keystoneauth's own fixture.
"""

import json
import secrets
import threading
from wsgiref import simple_server

import fixtures
from keystoneauth1 import fixture as ks_fixture

from m2.tests.unit.cli import apiserver


class FakeKeystone(fixtures.Fixture):
    """``url`` is the auth URL, ``password`` the one accepted; ``requests`` records bodies."""

    def __init__(self, service_type, endpoint, username='demo'):
        super().__init__()
        self.service_type = service_type
        self.endpoint = endpoint
        self.username = username
        self.password = secrets.token_hex(8)
        self.requests = []

    def _token(self):
        token = ks_fixture.V3Token(user_name=self.username, project_name='demo')
        service = token.add_service(self.service_type, name='m2')
        service.add_standard_endpoints(public=self.endpoint, region='RegionOne')
        return token

    def app(self, environ, start_response):
        path, method = environ['PATH_INFO'], environ['REQUEST_METHOD']
        headers = [('Content-Type', 'application/json')]
        if method == 'POST' and path == '/v3/auth/tokens':
            length = int(environ.get('CONTENT_LENGTH') or 0)
            body = json.loads(environ['wsgi.input'].read(length))
            self.requests.append(body)
            user = body['auth']['identity']['password']['user']
            if user.get('password') != self.password:
                start_response('401 Unauthorized', headers)
                return [json.dumps({'error': {'code': 401, 'title': 'Unauthorized',
                                              'message': 'bad password'}}).encode()]
            start_response('201 Created', headers + [('X-Subject-Token', 'tok123')])
            return [json.dumps(self._token()).encode()]
        if method == 'GET' and path.rstrip('/') in ('', '/v3'):
            version = {'id': 'v3.14', 'status': 'stable', 'updated': '2020-04-07T00:00:00Z',
                       'links': [{'rel': 'self', 'href': self.url + '/v3/'}]}
            start_response('200 OK', headers)
            return [json.dumps({'version': version} if path.startswith('/v3')
                               else {'versions': {'values': [version]}}).encode()]
        start_response('404 Not Found', headers)
        return [b'{}']

    def _setUp(self):
        server = simple_server.make_server('127.0.0.1', 0, self.app,
                                           server_class=apiserver._ThreadingServer,
                                           handler_class=apiserver._QuietHandler)
        self.url = 'http://127.0.0.1:%d' % server.server_port
        thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05},
                                  daemon=True)
        thread.start()
        self.addCleanup(server.server_close)
        self.addCleanup(thread.join, 5)
        self.addCleanup(server.shutdown)
