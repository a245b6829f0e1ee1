"""Unit tests of the HIL driver's error mapping and client details."""

from unittest import mock

import requests

from m2.common import exception
from m2.conf import CONF
from m2.drivers.isolator import hil, hil_client
from m2.tests import base


def _err(status, msg, type_='SomeError'):
    return hil_client.HILAPIError(status, type_, msg, 'POST', 'http://hil/v0/x')


def _resp(status, json_body=None, headers=None, text=None):
    resp = requests.Response()
    resp.status_code = status
    resp.headers.update(headers or {})
    if json_body is not None:
        resp._content = requests.compat.json.dumps(json_body).encode()
    else:
        resp._content = (text or '').encode()
    return resp


class TestTranslate(base.TestCase):

    def translate(self, status, msg):
        return hil.HILIsolatorDriver._translate(_err(status, msg), node='n1', nic='eth0',
                                                network='prov')

    def test_404_by_what_hil_names(self):
        cases = {'Node n1 does not exist.': exception.NodeNotFound,
                 'Nic eth0 on Node n1 does not exist.': exception.NicNotFound,
                 'Network prov does not exist.': exception.NetworkNotFound,
                 'User m2 does not exist.': exception.Forbidden,
                 'Project p does not exist.': exception.NotFound}
        for msg, cls in cases.items():
            self.assertIs(cls, type(self.translate(404, msg)), msg)
        no_port = self.translate(404, 'No port is connected to given nic.')
        self.assertEqual(404, no_port.code)
        self.assertIn('switch port', str(no_port))

    def test_other_statuses(self):
        self.assertIsInstance(self.translate(409, 'x'), exception.IsolatorConflict)
        self.assertIsInstance(self.translate(400, 'x'), exception.Invalid)
        other = self.translate(418, 'teapot')
        self.assertIsInstance(other, exception.BackendError)
        self.assertIn('teapot', str(other))


class TestClient(base.TestCase):

    def setUp(self):
        super().setUp()
        self.config(group='hil', url='http://hil.example:5001/', username='u',
                    password='s3cret', retries=0)
        self.client = hil_client.HILClient(CONF)

    def test_url_quotes_every_segment(self):
        self.assertEqual('http://hil.example:5001/v0/node/n1/nic/eth0%2F1/connect_network',
                         self.client.url('node', 'n1', 'nic', 'eth0/1', 'connect_network'))
        self.assertEqual('http://hil.example:5001/v0/node/..%2Fadmin',
                         self.client.url('node', '../admin'))

    def test_redact_url(self):
        self.assertEqual('http://h:1/obm/n1/power_cycle',
                         hil_client.redact_url('http://u:p@h:1/obm/n1/power_cycle?token=abc'))

    def test_error_body_that_is_not_json(self):
        self.assertEqual(('HTTPError', 'Bad gateway'),
                         hil_client._error_of(_resp(502, text='Bad gateway')))
        self.assertEqual(('BlockedError', 'busy'),
                         hil_client._error_of(_resp(409, {'type': 'BlockedError', 'msg': 'busy'})))

    def test_credentials_only_go_to_hils_own_origin(self):
        answers = [_resp(307, headers={'Location': 'http://obm.example/p?token=t'}),
                   _resp(200, {'ok': True})]
        with mock.patch.object(self.client.session, 'request', side_effect=answers) as req:
            self.assertEqual({'ok': True}, self.client.request('POST', 'node', 'n1', 'power_cycle',
                                                               body={'force': False}))
        first, second = req.call_args_list
        self.assertEqual(('u', 's3cret'), first.kwargs['auth'])
        self.assertEqual(('POST', 'http://obm.example/p?token=t'), second.args)
        self.assertEqual({'force': False}, second.kwargs['json'])
        self.assertIsNone(second.kwargs['auth'])

    def test_redirect_loop_is_bounded(self):
        loop = _resp(307, headers={'Location': '/v0/node/n1/power_cycle'})
        with mock.patch.object(self.client.session, 'request', return_value=loop) as req:
            self.assertRaises(exception.BackendError, self.client.request,
                              'POST', 'node', 'n1', 'power_cycle')
        self.assertEqual(hil_client._MAX_REDIRECTS + 1, req.call_count)

    def test_vanished_action_is_a_conflict(self):
        with mock.patch.object(self.client, 'request',
                               side_effect=_err(404, 'NetworkingAction x does not exist.')):
            self.assertRaises(exception.IsolatorConflict, self.client.wait_for_action,
                              {'status_id': 'x'}, 'attach')

    def test_unknown_status_and_missing_status_id(self):
        with mock.patch.object(self.client, 'request', return_value={'status': 'WEIRD'}):
            self.assertRaises(exception.BackendError, self.client.wait_for_action,
                              {'status_id': 'x'}, 'attach')
        self.assertIsNone(self.client.wait_for_action(None, 'attach'))
