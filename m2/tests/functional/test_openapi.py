"""The OpenAPI document matches what the server does.

A scenario drives every documented operation (successes and the usual
errors) against a real server; every answer must be a documented status of
its route, with a body valid against the documented schema, and every
documented operation must have been exercised.
"""

import json
import os
import re

import jsonschema
import referencing
import requests
import yaml
from openapi_spec_validator import validate as validate_spec

import m2.api
from m2.tests.functional import base

SPEC_PATH = os.path.join(os.path.dirname(m2.api.__file__), 'openapi.yaml')
SPEC_URI = 'urn:m2-openapi'
# Every route may answer these (see the document's description).
GLOBAL_STATUSES = {401, 403, 405}


def load_spec():
    with open(SPEC_PATH) as f:
        return yaml.safe_load(f)


class TestOpenAPI(base.FunctionalTest):
    private_server = True

    def setUp(self):
        super().setUp()
        self.spec = load_spec()
        registry = referencing.Registry().with_resource(
            SPEC_URI, referencing.Resource.from_contents(
                self.spec, default_specification=referencing.jsonschema.DRAFT202012))
        self.registry = registry
        self.routes = [(re.compile('^' + re.sub(r'\{[^}]+\}', '[^/]+', path) + '$'), path)
                       for path in self.spec['paths']]
        self.seen = set()

    def template(self, path):
        path = path.split('?')[0]
        for regex, template in self.routes:
            if regex.match(path):
                return template
        self.fail('%s is not in the OpenAPI document' % path)

    def call(self, method, path, body=None, data=None, expect=None):
        url = self.server.url + path
        if data is not None:
            response = requests.request(method, url, data=data, timeout=30)
        else:
            response = requests.request(method, url, json=body, timeout=30)
        template = self.template(path)
        operation = self.spec['paths'][template].get(method.lower())
        status = response.status_code
        if operation is None:
            # Undocumented methods must be refused.
            self.assertEqual(405, status, '%s %s is not documented' % (method, template))
        documented = operation['responses'] if operation else {}
        if str(status) not in documented:
            self.assertIn(status, GLOBAL_STATUSES,
                          '%s %s answered undocumented %s: %s' % (method, template, status,
                                                                  response.text))
            schema = {'$ref': SPEC_URI + '#/components/schemas/Error'}
        else:
            self.seen.add((method.lower(), template))
            answer = documented[str(status)]
            if '$ref' in answer:
                answer = self.spec['components']['responses'][answer['$ref'].split('/')[-1]]
            content = answer.get('content', {})
            schema = content.get('application/json', {}).get('schema')
        if expect is not None:
            self.assertEqual(expect, status, '%s %s: %s' % (method, path, response.text))
        if schema is not None and response.headers.get('Content-Type', '').startswith(
                'application/json'):
            # Inline schemas' refs point into the document: anchor them to it.
            schema = json.loads(json.dumps(schema).replace('"#/components',
                                                           '"%s#/components' % SPEC_URI))
            validator = jsonschema.Draft202012Validator(schema, registry=self.registry)
            errors = list(validator.iter_errors(response.json()))
            self.assertEqual([], [e.message for e in errors],
                             '%s %s %s body does not match the document' % (method, path,
                                                                            status))
        return response.json() if 'json' in response.headers.get('Content-Type', '') else None

    def test_document_is_valid_openapi(self):
        validate_spec(load_spec())

    def test_every_route_and_status(self):
        c = self.call
        c('GET', '/', expect=200)
        c('GET', '/v1', expect=200)
        c('POST', '/v1/projects', {'name': 'p1', 'provisioning_network': 'n1'}, expect=201)
        c('POST', '/v1/projects', {'name': 'p2'}, expect=201)
        c('POST', '/v1/projects', {'name': 'p1'}, expect=409)
        c('POST', '/v1/projects', {'name': '../x'}, expect=400)
        c('GET', '/v1/projects', expect=200)
        c('GET', '/v1/projects/p1', expect=200)
        c('GET', '/v1/projects/nope', expect=404)

        source, data = self.source_image()
        image = c('POST', '/v1/images', {'name': 'gold', 'project': 'p1', 'source': source},
                  expect=202)
        self.server.wait_stable('images', image['id'])
        c('POST', '/v1/images', {'name': 'x', 'project': 'p1', 'source': 'nope'}, expect=404)
        c('POST', '/v1/images', {'name': 'gold', 'project': 'p1', 'source': source},
          expect=409)
        c('POST', '/v1/images', {'name': 'a/b', 'project': 'p1', 'source': source},
          expect=400)
        c('GET', '/v1/images', expect=200)
        c('GET', '/v1/images?kind=bad', expect=400)
        c('GET', '/v1/images?project=nope', expect=404)
        c('GET', '/v1/images/%s' % image['id'], expect=200)
        c('GET', '/v1/images/gold?project=p1', expect=200)
        c('GET', '/v1/images/nope', expect=404)
        c('DELETE', '/v1/images/nope', expect=404)
        c('GET', '/v1/images/%s/file' % image['id'], expect=200)
        c('GET', '/v1/images/nope/file', expect=404)

        queued = c('POST', '/v1/images', {'name': 'up', 'project': 'p1'}, expect=201)
        c('GET', '/v1/images/%s/file' % queued['id'], expect=409)
        c('PUT', '/v1/images/%s/file' % queued['id'], data=b'\x01' * 4096, expect=202)
        self.server.wait_stable('images', queued['id'])
        c('PUT', '/v1/images/%s/file' % queued['id'], data=b'\x01', expect=409)
        c('PUT', '/v1/images/nope/file', data=b'\x01', expect=404)

        c('POST', '/v1/images/%s/export' % image['id'], {'storage_name': 'exp1'}, expect=202)
        self.server.wait_stable('images', image['id'])
        c('POST', '/v1/images/%s/export' % image['id'], {'storage_name': 'exp1'}, expect=409)
        c('POST', '/v1/images/%s/export' % image['id'], {'storage_name': '../e'}, expect=400)
        c('POST', '/v1/images/nope/export', {'storage_name': 'e'}, expect=404)
        copy = c('POST', '/v1/images/%s/copy' % image['id'], {'project': 'p2'}, expect=202)
        self.server.wait_stable('images', copy['id'])
        c('POST', '/v1/images/%s/copy' % image['id'], {'project': 'p2'}, expect=409)
        c('POST', '/v1/images/%s/copy' % image['id'], {}, expect=400)
        c('POST', '/v1/images/nope/copy', {'project': 'p2'}, expect=404)
        c('POST', '/v1/images/%s/move' % queued['id'], {'project': 'p2'}, expect=200)
        c('POST', '/v1/images/%s/move' % copy['id'], {'project': 'p1'}, expect=409)
        c('POST', '/v1/images/%s/move' % copy['id'], {'project': 7}, expect=400)
        c('POST', '/v1/images/nope/move', {'project': 'p1'}, expect=404)

        node = c('POST', '/v1/nodes', {'name': 'n1', 'project': 'p1', 'image': image['id'],
                                       'nic': 'eno1'}, expect=202)
        self.server.wait_stable('nodes', 'n1')
        c('POST', '/v1/nodes', {'name': 'n1', 'project': 'p1', 'image': image['id'],
                                'nic': 'eno1'}, expect=409)
        c('POST', '/v1/nodes', {'name': 'n2', 'project': 'p1', 'image': 'nope',
                                'nic': 'eno1'}, expect=404)
        c('POST', '/v1/nodes', {'name': 'n2', 'project': 'p1', 'image': image['id'],
                                'nic': 'eno1', 'mac': 'bad'}, expect=400)
        c('GET', '/v1/nodes', expect=200)
        c('GET', '/v1/nodes?project=nope', expect=404)
        c('GET', '/v1/nodes?all_projects=maybe', expect=400)
        c('GET', '/v1/nodes/n1', expect=200)
        c('GET', '/v1/nodes/nope', expect=404)
        c('GET', '/v1/nodes/a..b', expect=400)
        c('GET', '/v1/nodes/n1/ip', expect=404)
        with open(os.path.join(self.server.state_path, 'leases'), 'w') as f:
            f.write('0 %s 10.1.2.3 n1 *\n' % node['mac'])
        c('GET', '/v1/nodes/n1/ip', expect=200)
        c('GET', '/v1/targets', expect=200)
        c('GET', '/v1/conductors', expect=200)
        c('DELETE', '/v1/conductors', expect=405)
        c('GET', '/v1/audit', expect=200)
        c('POST', '/v1/audit', {'fix': 'yes'}, expect=400)
        c('POST', '/v1/audit', {'fix': True}, expect=200)
        snap = c('POST', '/v1/nodes/n1/snapshot', {'name': 's1'}, expect=202)
        self.server.wait_stable('images', snap['id'])
        c('POST', '/v1/nodes/n1/snapshot', {'name': 's1'}, expect=409)
        c('POST', '/v1/nodes/n1/snapshot', {}, expect=400)
        c('POST', '/v1/nodes/nope/snapshot', {'name': 's2'}, expect=404)
        c('DELETE', '/v1/images/%s' % image['id'], expect=409)
        c('DELETE', '/v1/projects/p1', expect=409)
        c('DELETE', '/v1/nodes/n1', expect=202)
        self.server.wait_for('/v1/nodes/n1', gone=True)
        c('DELETE', '/v1/nodes/n1', expect=404)
        for ident in (snap['id'], image['id'], copy['id'], queued['id']):
            c('DELETE', '/v1/images/%s' % ident, expect=202)
            self.server.wait_for('/v1/images/%s' % ident, gone=True)
        c('DELETE', '/v1/projects/p2', expect=204)
        c('DELETE', '/v1/projects/nope', expect=404)
        c('PATCH', '/v1/nodes', {}, expect=405)

        documented = {(method, path) for path, ops in self.spec['paths'].items()
                      for method in ops if method != 'parameters'}
        self.assertEqual(set(), documented - self.seen,
                         'documented operations never exercised')
