"""A fake HIL: an in-memory WSGI app speaking HIL's REST API (HIL-API.md).

It reproduces what m2's ``hil`` driver relies on: HTTP Basic (or
``X-Auth-Token``) auth with 401 for both authn and authz failures,
``{"type", "msg"}`` error bodies, 202 + ``status_id`` for networking calls,
one pending action per NIC (409), PENDING -> DONE after a configurable delay,
status ids kept until the NIC's next action, 400 for detaching a network that
is not attached, and optional 307 redirects of power calls to an OBM route.

Tests use it through ``m2.tests.functional.components.hil.FakeHILFixture``;
by hand::

    python -m m2.tests.fake_hil --port 5001 [--seed seed.json]

A control API without auth lives under ``/_fake/``: ``GET state``, ``GET``/
``DELETE calls``, ``POST seed`` (replaces everything), ``POST settings``
(``action_delay``, ``next_action_status`` = ERROR|HANG for the next action
only, ``obm_redirect``, ``unknown_user_status``), ``POST``/``DELETE faults``
(``{"method", "path" glob, "status", "type", "msg", "times", "delay"}``: answer
that error, or stall ``delay`` seconds first, for the next ``times`` matching
calls; no ``times`` means every call).
"""

import argparse
import base64
import binascii
import copy
import fnmatch
import json
import logging
import re
import socketserver
import threading
import time
import uuid
from wsgiref import simple_server

import webob

LOG = logging.getLogger(__name__)

DEFAULT_SETTINGS = {'action_delay': 0.0, 'next_action_status': None,
                    'obm_redirect': False, 'unknown_user_status': 401}
BOOT_DEVICES = ('pxe', 'disk', 'none')
_CHANNEL_RE = re.compile(r'^vlan/(native|\d+)$')


def demo_seed():
    """A small world: one project, its network, two nodes (one unwired)."""
    return {
        'users': {'m2': {'password': 'fake-hil-secret', 'projects': ['m2-proj']},
                  'admin': {'password': 'fake-admin-secret', 'admin': True}},
        'tokens': {},
        'projects': ['m2-proj', 'other-proj'],
        'networks': {'m2-prov': {'owner': 'm2-proj', 'access': ['m2-proj'], 'vlan': 1001},
                     'other-net': {'owner': 'other-proj', 'access': ['other-proj'],
                                   'vlan': 1002}},
        'nodes': {
            'node-1': {'project': 'm2-proj', 'nics': [
                {'label': 'eth0', 'macaddr': '52:54:00:AA:00:01', 'port': 'sw0::gi1/0/1'},
                {'label': 'eth1', 'macaddr': '52:54:00:aa:01:01', 'port': None}]},
            'node-2': {'project': 'm2-proj', 'nics': [
                {'label': 'eth0', 'macaddr': '52:54:00:aa:00:02', 'port': 'sw0::gi1/0/2'}]},
            'free-node': {'project': None, 'nics': [
                {'label': 'eth0', 'macaddr': '52:54:00:aa:00:03', 'port': 'sw0::gi1/0/3'}]},
        },
    }


class HILError(Exception):
    """An error answer, as HIL's ``rest_call`` turns its APIError into JSON."""

    def __init__(self, status, type_, msg):
        super().__init__(msg)
        self.status, self.type, self.msg = status, type_, msg


def _not_found(kind, name):
    return HILError(404, 'NotFoundError', '%s %s does not exist.' % (kind, name))


def _response(status, body=None, headers=None):
    resp = webob.Response(status=status, headerlist=list(headers or []))
    if body is not None:
        resp.content_type = 'application/json'
        resp.text = json.dumps(body)
    return resp


class FakeHIL:
    """The WSGI app and its in-memory model; every method is thread-safe."""

    ROUTES = [
        ('GET', r'/v0/node/(?P<node>[^/]+)', 'show_node'),
        ('GET', r'/v0/project/(?P<project>[^/]+)/nodes', 'project_nodes'),
        ('GET', r'/v0/project/(?P<project>[^/]+)/networks', 'project_networks'),
        ('POST', r'/v0/node/(?P<node>[^/]+)/nic/(?P<nic>.+)/connect_network', 'connect'),
        ('POST', r'/v0/node/(?P<node>[^/]+)/nic/(?P<nic>.+)/detach_network', 'detach'),
        ('GET', r'/v0/networking_action/(?P<status_id>[^/]+)', 'action_status'),
        ('POST', r'/v0/node/(?P<node>[^/]+)/(?P<op>power_cycle|power_on|power_off)', 'power'),
        ('GET', r'/v0/node/(?P<node>[^/]+)/power_status', 'power_status'),
        ('PUT', r'/v0/node/(?P<node>[^/]+)/boot_device', 'boot_device'),
        ('POST', r'/obm/(?P<node>[^/]+)/(?P<op>power_cycle|power_on|power_off)', 'obm_power'),
    ]

    def __init__(self, seed=None):
        self.lock = threading.RLock()
        # Set on shutdown so that stalled ("hanging") requests return at once.
        self.released = threading.Event()
        self.reset(seed if seed is not None else demo_seed())

    # -- model ------------------------------------------------------------

    def reset(self, seed):
        seed = copy.deepcopy(seed)
        with self.lock:
            self.users = seed.get('users', {})
            self.tokens = seed.get('tokens', {})
            self.projects = set(seed.get('projects', []))
            self.networks = seed.get('networks', {})
            self.nodes = {}
            for name, node in seed.get('nodes', {}).items():
                nics = {n['label']: {'macaddr': n['macaddr'], 'port': n.get('port'),
                                     'networks': dict(n.get('networks', {})),
                                     'current_action': None, 'status_id': None}
                        for n in node.get('nics', [])}
                self.nodes[name] = {
                    'project': node.get('project'), 'nics': nics,
                    'power': node.get('power', 'off'), 'bootdev': node.get('bootdev', 'disk'),
                    'obm': node.get('obm', True), 'obm_token': uuid.uuid4().hex,
                    'power_cycles': 0, 'obm_calls': []}
            self.actions = {}
            self.calls = []
            self.faults = []
            self.settings = dict(DEFAULT_SETTINGS, **seed.get('settings', {}))

    def configure(self, **settings):
        unknown = set(settings) - set(DEFAULT_SETTINGS)
        if unknown:
            raise ValueError('unknown fake HIL settings: %s' % sorted(unknown))
        with self.lock:
            self.settings.update(settings)

    def add_fault(self, method='*', path='*', status=None, type='ServerError',
                  msg='Injected failure', times=None, delay=0.0):
        """Fail (``status``) and/or stall (``delay`` s) the next ``times`` matching calls."""
        with self.lock:
            self.faults.append({'method': method, 'path': path, 'status': status,
                                'type': type, 'msg': msg, 'times': times, 'delay': delay})

    def clear_faults(self):
        with self.lock:
            self.faults = []

    def release(self):
        self.released.set()

    def attachments(self, node, nic):
        with self.lock:
            self._advance()
            return dict(self.nodes[node]['nics'][nic]['networks'])

    def state(self):
        with self.lock:
            self._advance()
            nodes = copy.deepcopy(self.nodes)
            for node in nodes.values():
                node.pop('obm_token')
            return {'nodes': nodes, 'actions': self._public_actions(),
                    'settings': dict(self.settings)}

    def _public_actions(self):
        return {sid: {k: v for k, v in a.items() if not k.startswith('_')}
                for sid, a in self.actions.items()}

    def _take_fault(self, method, path):
        with self.lock:
            for fault in self.faults:
                if (fnmatch.fnmatchcase(method, fault['method'])
                        and fnmatch.fnmatchcase(path, fault['path'])
                        and fault['times'] != 0):
                    if fault['times'] is not None:
                        fault['times'] -= 1
                    return dict(fault)
        return None

    def _advance(self):
        """Finish every action whose delay is over (HIL's networking daemon)."""
        now = time.monotonic()
        for action in self.actions.values():
            if action['status'] != 'PENDING' or action['_ready_at'] > now:
                continue
            action['status'] = action['_outcome']
            nic = self.nodes[action['node']]['nics'][action['nic']]
            nic['current_action'] = None
            if action['status'] != 'DONE':
                continue
            if action['new_network'] is None:
                nic['networks'].pop(action['channel'], None)
            else:
                nic['networks'][action['channel']] = action['new_network']

    def _start_action(self, node, nic_name, network, channel):
        nic = self.nodes[node]['nics'][nic_name]
        # Status ids live until the next action on the same NIC.
        self.actions.pop(nic['status_id'], None)
        outcome = self.settings['next_action_status'] or 'DONE'
        self.settings['next_action_status'] = None
        delay = self.settings['action_delay']
        ready_at = float('inf') if outcome == 'HANG' or delay is None else (
            time.monotonic() + delay)
        status_id = str(uuid.uuid4())
        self.actions[status_id] = {
            'status': 'PENDING', 'node': node, 'nic': nic_name, 'new_network': network,
            'type': 'modify_port', 'channel': channel,
            '_ready_at': ready_at, '_outcome': 'DONE' if outcome == 'HANG' else outcome}
        nic['current_action'] = nic['status_id'] = status_id
        self._advance()
        return _response(202, {'status_id': status_id})

    # -- auth -------------------------------------------------------------

    def _authenticate(self, req):
        token = req.headers.get('X-Auth-Token')
        if token is not None:
            if token not in self.tokens:
                raise HILError(401, 'AuthorizationError', 'Invalid token.')
            return self.tokens[token]
        header = req.headers.get('Authorization', '')
        scheme, _, encoded = header.partition(' ')
        if scheme.lower() != 'basic':
            raise HILError(401, 'AuthorizationError', 'Authentication required.')
        try:
            name, _, password = base64.b64decode(encoded).decode().partition(':')
        except (binascii.Error, UnicodeDecodeError):
            raise HILError(400, 'BadArgumentError', 'Malformed Authorization header.')
        user = self.users.get(name)
        if user is None and self.settings['unknown_user_status'] == 404:
            raise _not_found('User', name)
        if user is None or user.get('password') != password:
            raise HILError(401, 'AuthorizationError', 'Authentication failed.')
        return user

    @staticmethod
    def _require_access(ident, project):
        if not ident.get('admin') and (project is None or project not in ident.get('projects', [])):
            raise HILError(401, 'AuthorizationError',
                           'You do not have access to the required project.')

    def _node(self, name):
        if name not in self.nodes:
            raise _not_found('Node', name)
        return self.nodes[name]

    # -- WSGI -------------------------------------------------------------

    def __call__(self, environ, start_response):
        req = webob.Request(environ)
        raw = req.body  # always drain it, even when failing early
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = ValueError
        if req.path_info.startswith('/_fake/'):
            return self._control(req, body)(environ, start_response)
        record = {'method': req.method, 'path': req.path_info, 'body': body,
                  'query': req.query_string, 'auth': 'Authorization' in req.headers
                  or 'X-Auth-Token' in req.headers}
        with self.lock:
            self.calls.append(record)
        fault = self._take_fault(req.method, req.path_info)
        if fault and fault['delay']:
            self.released.wait(fault['delay'])
        try:
            if body is ValueError:
                raise HILError(400, 'BadArgumentError', 'The request body is not JSON.')
            if fault and fault['status']:
                raise HILError(fault['status'], fault['type'], fault['msg'])
            resp = self._dispatch(req, body)
        except HILError as err:
            resp = _response(err.status, {'type': err.type, 'msg': err.msg})
        record['status'] = resp.status_code
        return resp(environ, start_response)

    def _dispatch(self, req, body):
        for method, pattern, handler in self.ROUTES:
            match = re.fullmatch(pattern, req.path_info)
            if match and req.method == method:
                with self.lock:
                    self._advance()
                    if handler == 'obm_power':
                        return self.obm_power(req, body, **match.groupdict())
                    ident = self._authenticate(req)
                    return getattr(self, handler)(req, ident, body, **match.groupdict())
        raise HILError(404, 'NotFoundError', 'No route %s %s.' % (req.method, req.path_info))

    # -- HIL routes -------------------------------------------------------

    def show_node(self, req, ident, body, node):
        info = self._node(node)
        if info['project'] is not None:
            self._require_access(ident, info['project'])
        nics = [{'label': label, 'macaddr': nic['macaddr'], 'networks': dict(nic['networks'])}
                for label, nic in info['nics'].items()]
        return _response(200, {'name': node, 'project': info['project'], 'nics': nics,
                               'metadata': {}})

    def project_nodes(self, req, ident, body, project):
        if project not in self.projects:
            raise _not_found('Project', project)
        self._require_access(ident, project)
        return _response(200, sorted(n for n, i in self.nodes.items() if i['project'] == project))

    def project_networks(self, req, ident, body, project):
        if project not in self.projects:
            raise _not_found('Project', project)
        self._require_access(ident, project)
        return _response(200, sorted(n for n, net in self.networks.items()
                                     if not net.get('access') or project in net['access']))

    @staticmethod
    def _check_body(body, required, optional=()):
        if not isinstance(body, dict) or not set(required) <= set(body) \
                or set(body) - set(required) - set(optional) \
                or not all(isinstance(body[k], str) for k in body):
            raise HILError(400, 'BadArgumentError',
                           'Expected a JSON object with %s.' % ', '.join(required))

    def _nic(self, node, info, nic):
        if nic not in info['nics']:
            raise _not_found('Nic', '%s on Node %s' % (nic, node))
        return info['nics'][nic]

    def _network(self, name):
        if name not in self.networks:
            raise _not_found('Network', name)
        return self.networks[name]

    def connect(self, req, ident, body, node, nic):
        # Checks in HIL's order (hil/api.py node_connect_network).
        self._check_body(body, ['network'], ['channel'])
        info = self._node(node)
        nic_info = self._nic(node, info, nic)
        net = self._network(body['network'])
        if not info['project']:
            raise HILError(409, 'ProjectMismatchError', 'Node not in project')
        self._require_access(ident, info['project'])
        if nic_info['port'] is None:
            raise HILError(404, 'NotFoundError', 'No port is connected to given nic.')
        if nic_info['current_action']:
            raise HILError(409, 'BlockedError',
                           'A networking operation is already active on the nic.')
        if net.get('access') and info['project'] not in net['access']:
            raise HILError(409, 'ProjectMismatchError',
                           'Project does not have access to given network.')
        if body['network'] in nic_info['networks'].values():
            raise HILError(409, 'BlockedError', 'The network is already attached to the nic.')
        channel = body.get('channel', 'vlan/native')
        if channel in nic_info['networks']:
            raise HILError(409, 'BlockedError', 'The channel is already in use on the nic.')
        if not _CHANNEL_RE.match(channel) or channel not in (
                'vlan/native', 'vlan/%s' % net.get('vlan')):
            raise HILError(400, 'BadArgumentError',
                           'Channel %r, is not legal for this network.' % channel)
        return self._start_action(node, nic, body['network'], channel)

    def detach(self, req, ident, body, node, nic):
        self._check_body(body, ['network'])
        info = self._node(node)
        self._network(body['network'])
        nic_info = self._nic(node, info, nic)
        if not info['project']:
            raise HILError(409, 'ProjectMismatchError', 'Node not in project')
        self._require_access(ident, info['project'])
        if nic_info['current_action']:
            raise HILError(409, 'BlockedError',
                           'A networking operation is already active on the nic.')
        channels = [c for c, n in nic_info['networks'].items() if n == body['network']]
        if not channels:
            # HIL's docs say 409; its code raises BadArgumentError (400).
            raise HILError(400, 'BadArgumentError', 'The network is not attached to the nic.')
        return self._start_action(node, nic, None, channels[0])

    def action_status(self, req, ident, body, status_id):
        if status_id not in self.actions:
            raise _not_found('NetworkingAction', status_id)
        return _response(200, self._public_actions()[status_id])

    def _power_node(self, ident, node):
        info = self._node(node)
        self._require_access(ident, info['project'])
        if not info['obm']:
            raise HILError(409, 'BlockedError', 'OBM is not enabled for node %s.' % node)
        return info

    def power(self, req, ident, body, node, op):
        info = self._power_node(ident, node)
        if op == 'power_cycle' and body is not None and (
                not isinstance(body, dict) or not isinstance(body.get('force', False), bool)):
            raise HILError(400, 'BadArgumentError', '"force" must be a boolean.')
        if self.settings['obm_redirect']:
            location = '%s/obm/%s/%s?token=%s' % (req.host_url, node, op, info['obm_token'])
            return _response(307, headers=[('Location', location)])
        return self._apply_power(info, op, body)

    @staticmethod
    def _apply_power(info, op, body):
        if op == 'power_cycle':
            info['power'] = 'on'
            info['power_cycles'] += 1
        else:
            info['power'] = 'on' if op == 'power_on' else 'off'
        return _response(200)

    def obm_power(self, req, body, node, op):
        """The OBM service HIL redirects to: authorised by the token in the URL."""
        info = self._node(node)
        if req.GET.get('token') != info['obm_token']:
            raise HILError(401, 'AuthorizationError', 'Bad OBM token.')
        info['obm_calls'].append({'op': op, 'body': body})
        if op == 'power_cycle' and not isinstance(body, dict):
            # What a client that drops the body on 307 gets: the call failed.
            raise HILError(400, 'BadArgumentError', 'power_cycle needs {"force": bool}.')
        return self._apply_power(info, op, body)

    def power_status(self, req, ident, body, node):
        info = self._power_node(ident, node)
        return _response(200, {'power_status': info['power']})

    def boot_device(self, req, ident, body, node):
        info = self._power_node(ident, node)
        self._check_body(body, ['bootdev'])
        if body['bootdev'] not in BOOT_DEVICES:
            raise HILError(400, 'BadArgumentError', 'Unknown boot device %r.' % body['bootdev'])
        info['bootdev'] = body['bootdev']
        return _response(200)

    # -- control API ------------------------------------------------------

    def _control(self, req, body):
        route = (req.method, req.path_info[len('/_fake/'):].strip('/'))
        try:
            if route == ('GET', 'state'):
                return _response(200, self.state())
            if route == ('GET', 'calls'):
                with self.lock:
                    return _response(200, list(self.calls))
            if route == ('DELETE', 'calls'):
                with self.lock:
                    self.calls = []
                return _response(204)
            if route == ('POST', 'seed'):
                self.reset(body or {})
                return _response(204)
            if route == ('POST', 'settings'):
                self.configure(**(body or {}))
                return _response(200, self.state()['settings'])
            if route == ('POST', 'faults'):
                self.add_fault(**(body or {}))
                return _response(204)
            if route == ('DELETE', 'faults'):
                self.clear_faults()
                return _response(204)
        except (TypeError, ValueError, KeyError, AttributeError) as err:
            return _response(400, {'type': 'BadArgumentError', 'msg': str(err)})
        return _response(404, {'type': 'NotFoundError', 'msg': 'No control route %s %s.' % route})


class _ThreadingServer(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, fmt, *args):
        LOG.debug('fake HIL: %s', fmt % args)


def make_server(app, host='127.0.0.1', port=0):
    """A threaded wsgiref server for ``app`` (port 0: pick a free one)."""
    return simple_server.make_server(host, port, app, server_class=_ThreadingServer,
                                     handler_class=_QuietHandler)


def main(argv=None):
    parser = argparse.ArgumentParser(description='Run a fake HIL for m2 on a loopback port.')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=5001)
    parser.add_argument('--seed', help='JSON file with users, projects, networks, nodes '
                                       '(default: a small demo world)')
    parser.add_argument('--action-delay', type=float, default=0.5,
                        help='seconds networking actions stay PENDING')
    args = parser.parse_args(argv)
    seed = demo_seed()
    if args.seed:
        with open(args.seed) as f:
            seed = json.load(f)
    logging.basicConfig(level=logging.INFO)
    app = FakeHIL(seed)
    app.configure(action_delay=args.action_delay)
    server = make_server(app, args.host, args.port)
    print('Fake HIL on http://%s:%d (control API under /_fake/)' % (args.host, server.server_port),
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.release()
        server.server_close()


if __name__ == '__main__':
    main()
