"""The HTTP client of the ``m2`` CLI: a keystoneauth1 adapter plus error mapping.

Every failure a user can meet (an API error, an unreachable endpoint, bad
credentials) becomes a :class:`CommandError` whose text is one clear line;
cliff prints it without a traceback and exits non-zero.
"""

import logging
from urllib import parse

from keystoneauth1 import adapter
from keystoneauth1 import exceptions as ks_exc

LOG = logging.getLogger(__name__)

API_PREFIX = '/v1'


class CommandError(Exception):
    """A failure reported to the user as one line (cliff prints ``str()``)."""


class HTTPError(CommandError):
    """The API answered with an error status."""

    def __init__(self, code, message, title=None):
        self.code = code
        self.title = title
        self.message = message
        super().__init__('Error (%d): %s' % (code, message))


def error_from_response(resp):
    """The :class:`HTTPError` described by an error response of the API."""
    try:
        error = resp.json()['error']
        return HTTPError(int(error.get('code') or resp.status_code),
                         error.get('message') or error.get('title') or resp.reason,
                         error.get('title'))
    except (ValueError, KeyError, TypeError, AttributeError):
        # Not our JSON (a proxy, a wrong endpoint): keep it short.
        text = ' '.join((resp.text or '').split())[:200]
        return HTTPError(resp.status_code, text or resp.reason or 'no details')


class Client:
    """Calls the M2 REST API (``/v1/...``) through a keystoneauth1 session.

    ``endpoint`` overrides the catalog; without auth it is the only way to
    find the API.
    """

    def __init__(self, session, endpoint=None, service_type='baremetal-imaging',
                 interface='public', region_name=None):
        if endpoint:
            endpoint = endpoint.rstrip('/')
            # Accept the versioned URL too: every path below starts with /v1.
            if endpoint.endswith(API_PREFIX):
                endpoint = endpoint[:-len(API_PREFIX)]
        self.endpoint = endpoint
        self.adapter = adapter.Adapter(session, service_type=service_type,
                                       interface=interface, region_name=region_name,
                                       endpoint_override=endpoint)

    def _where(self):
        return self.endpoint or 'the %s endpoint of the catalog' % self.adapter.service_type

    def request(self, method, path, json=None, data=None, stream=False, headers=None):
        """Send one request; return the response or raise :class:`CommandError`.

        ``path`` is relative to ``/v1``. Any status >= 400 raises :class:`HTTPError`.
        """
        url = API_PREFIX + path
        try:
            resp = self.adapter.request(url, method, json=json, data=data, stream=stream,
                                        headers=headers, raise_exc=False)
        except ks_exc.ConnectFailure as exc:
            LOG.debug('Connection to %s failed: %s', self._where(), exc)
            raise CommandError('Cannot reach the m2 API at %s: connection failed '
                               '(is m2-server running there?)' % self._where())
        except ks_exc.ConnectTimeout:
            raise CommandError('Cannot reach the m2 API at %s: connection timed out'
                               % self._where())
        except ks_exc.EndpointNotFound:
            raise CommandError('No m2 API endpoint: the catalog has no %r service; '
                               'give --os-endpoint' % self.adapter.service_type)
        except ks_exc.Unauthorized as exc:
            raise CommandError('Authentication failed: %s' % exc)
        except ks_exc.ClientException as exc:
            raise CommandError('Request to the m2 API failed: %s' % exc)
        if resp.status_code >= 400:
            raise error_from_response(resp)
        return resp

    def get(self, path, **params):
        query = {k: v for k, v in params.items() if v is not None}
        if query:
            path = '%s?%s' % (path, parse.urlencode(query))
        return self.request('GET', path).json()

    def post(self, path, body=None):
        resp = self.request('POST', path, json=body if body is not None else {})
        return resp.json() if resp.content else None

    def delete(self, path):
        resp = self.request('DELETE', path)
        return resp.json() if resp.content else None

    def exists(self, path):
        """GET ``path``: its JSON, or None on 404."""
        try:
            return self.request('GET', path).json()
        except HTTPError as exc:
            if exc.code == 404:
                return None
            raise
