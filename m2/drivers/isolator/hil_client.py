"""A small HTTP client for HIL's REST API: auth, retries, redirects, polling.

The client knows HTTP and HIL's conventions (``/v0`` routes, ``{"type",
"msg"}`` error bodies, 202 + ``status_id`` networking actions, 307 to an OBM
service); the driver (``hil.py``) knows what each call means and maps HIL's
4xx answers onto m2's domain errors. Credentials and tokens never reach a log
line or an exception message.
"""

import logging
import re
import time
import urllib.parse

import requests
import tenacity
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading

from m2.common import exception

LOG = logging.getLogger(__name__)

BACKEND = 'HIL'
# HIL >= 0.4 redirects power calls to its OBM service; one hop is normal,
# a loop is a misconfiguration.
_MAX_REDIRECTS = 3
# First wait between two polls of a networking action: switches usually
# answer within a second, so start fast and back off to [hil] poll_interval.
_FIRST_POLL = 0.05
_ERRNO_RE = re.compile(r'\[Errno -?\d+\][^\'")]*')


class HILAPIError(exception.BackendError):
    """HIL answered a 4xx; the driver maps it onto a domain error.

    A subclass of BackendError so that, unmapped, it is still an m2 error.
    """

    msg_fmt = 'HIL answered %(status)s %(type)s: %(msg)s'

    def __init__(self, status, type_, msg, method, url):
        self.status = status
        self.type = type_
        self.msg = msg
        self.method = method
        self.url = url
        super().__init__(status=status, type=type_, msg=msg, backend=BACKEND)


class _Transient(Exception):
    """A failure worth retrying: no connection, a timeout or a 5xx."""


def redact_url(url):
    """Drop user info and query string (an OBM redirect carries a token there)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition('@')[2]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, '', ''))


def _origin(url):
    parts = urllib.parse.urlsplit(url)
    return (parts.scheme, parts.hostname, parts.port)


def _error_of(resp):
    """Return HIL's ``(type, msg)`` from an error answer, whatever its body."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and 'msg' in body:
        return str(body.get('type') or 'Error'), str(body['msg'])
    text = (resp.text or '').strip()[:200]
    return 'HTTPError', text or resp.reason or 'no message'


def _connection_reason(err):
    """A short, secret-free reason for a requests connection error."""
    if isinstance(err, requests.Timeout):
        return 'timed out'
    match = _ERRNO_RE.search(str(err))
    return match.group(0).strip() if match else type(err).__name__


class HILClient:
    """Speaks HTTP to one HIL, configured by ``conf``'s ``[hil]`` group.

    Options are read on every call, so a test or a reload that changes a
    timeout takes effect without a new client.
    """

    def __init__(self, conf):
        self._root_conf = conf
        self.conf = conf.hil
        self.session = requests.Session()
        self._ks_session = None
        self._ks_auth = None

    # -- auth -------------------------------------------------------------

    def _auth(self):
        """Return ``(requests auth, headers)`` for a request to HIL itself."""
        if self.conf.auth_type == 'keystone':
            return None, {'X-Auth-Token': self._token()}
        if self.conf.username is None:
            return None, {}
        return (self.conf.username, self.conf.password or ''), {}

    def _keystone(self):
        if self._ks_session is None:
            conf = self._root_conf
            section = self.conf.keystone_section
            ks_loading.register_auth_conf_options(conf, section)
            ks_loading.register_session_conf_options(conf, section)
            auth = ks_loading.load_auth_from_conf_options(conf, section)
            if auth is None:
                raise exception.BackendError(
                    backend=BACKEND,
                    reason='[hil] auth_type is keystone but [%s] has no auth_type' % section)
            self._ks_auth = auth
            self._ks_session = ks_loading.load_session_from_conf_options(conf, section, auth=auth)
        return self._ks_session

    def _token(self):
        try:
            return self._keystone().get_token()
        except ks_exc.Unauthorized:
            raise exception.Forbidden(
                action='Keystone refused the credentials of [%s] for HIL'
                % self.conf.keystone_section)
        except ks_exc.ClientException as err:
            raise exception.BackendUnavailable(
                backend='Keystone (for HIL)', reason=type(err).__name__)

    # -- requests -----------------------------------------------------------

    def url(self, *segments):
        """``<[hil] url>/v0/<segments>``, each segment quoted (names may hold '/')."""
        quoted = '/'.join(urllib.parse.quote(str(s), safe='') for s in segments)
        return '%s/v0/%s' % (self.conf.url.rstrip('/'), quoted)

    def request(self, method, *segments, body=None, what=None):
        """Send ``method`` to ``/v0/<segments>``; return the decoded JSON or None.

        Follows 307/308 keeping method and body (credentials go only to HIL's
        own origin). Retries transient failures with exponential backoff.

        :raises HILAPIError: for a 4xx other than 401.
        :raises Forbidden: HIL answered 401.
        :raises BackendUnavailable: no answer or 5xx after every retry.
        """
        what = what or '%s %s' % (method, '/'.join(str(s) for s in segments))
        url = self.url(*segments)
        home = _origin(url)
        refreshed = False
        hops = 0
        while True:
            resp = self._send(method, url, body, _origin(url) == home)
            if resp.status_code in (307, 308) and hops < _MAX_REDIRECTS:
                hops += 1
                location = resp.headers.get('Location')
                if not location:
                    raise exception.BackendError(
                        backend=BACKEND, reason='%s: redirect without Location' % what)
                url = urllib.parse.urljoin(url, location)
                LOG.debug('HIL redirected %s to %s', what, redact_url(url))
                continue
            if (resp.status_code == 401 and self.conf.auth_type == 'keystone'
                    and not refreshed and self._ks_auth is not None):
                # An expired token: get a fresh one once, then give up.
                refreshed = True
                self._ks_auth.invalidate()
                continue
            return self._decode(resp, method, url, what)

    def _send(self, method, url, body, with_auth):
        conf = self.conf
        attempts = conf.retries + 1

        def before_sleep(state):
            LOG.warning('HIL %s %s failed (%s); retry %d of %d',
                        method, redact_url(url), state.outcome.exception(),
                        state.attempt_number, conf.retries)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(attempts),
            wait=tenacity.wait_exponential(multiplier=conf.retry_backoff,
                                           max=conf.retry_backoff_max),
            retry=tenacity.retry_if_exception_type(_Transient),
            before_sleep=before_sleep, reraise=True)
        try:
            return retrying(self._send_once, method, url, body, with_auth)
        except _Transient as err:
            raise exception.BackendUnavailable(
                backend=BACKEND,
                reason='%s %s failed %d time(s), last: %s; check [hil] url and that '
                       'HIL is running' % (method, redact_url(url), attempts, err))

    def _send_once(self, method, url, body, with_auth):
        auth, headers = self._auth() if with_auth else (None, {})
        verify = False if self.conf.insecure else (self.conf.cafile or True)
        timeout = self.conf.request_timeout
        try:
            resp = self.session.request(method, url, json=body, auth=auth, headers=headers,
                                        timeout=timeout, allow_redirects=False, verify=verify)
        except requests.Timeout:
            raise _Transient('no answer within %ss ([hil] request_timeout)' % timeout)
        except requests.ConnectionError as err:
            raise _Transient('cannot connect: %s' % _connection_reason(err))
        except requests.RequestException as err:
            raise exception.BackendError(backend=BACKEND, reason='%s %s: %s' % (
                method, redact_url(url), type(err).__name__))
        LOG.debug('HIL %s %s -> %d', method, redact_url(url), resp.status_code)
        if resp.status_code >= 500:
            type_, msg = _error_of(resp)
            raise _Transient('HTTP %d %s: %s' % (resp.status_code, type_, msg))
        return resp

    def _decode(self, resp, method, url, what):
        status = resp.status_code
        if 200 <= status < 300:
            if not resp.content:
                return None
            try:
                return resp.json()
            except ValueError:
                raise exception.BackendError(
                    backend=BACKEND, reason='%s: answer is not JSON' % what)
        type_, msg = _error_of(resp)
        if status == 401:
            raise exception.Forbidden(
                action='HIL refused %s (%s: %s); check the [hil] credentials and that '
                       'they may act on this project' % (what, type_, msg))
        if 400 <= status < 500:
            raise HILAPIError(status, type_, msg, method, redact_url(url))
        raise exception.BackendError(
            backend=BACKEND, reason='%s: unexpected HTTP %d' % (what, status))

    # -- networking actions ---------------------------------------------------

    def wait_for_action(self, answer, what):
        """Poll the networking action a 202 answered until DONE or ERROR.

        Never sleeps blindly: the first poll is immediate, the next ones back
        off from 50 ms to ``[hil] poll_interval``, within ``[hil] action_timeout``.

        :raises BackendError: the action ended in ERROR.
        :raises BackendUnavailable: still PENDING at the deadline.
        """
        status_id = answer.get('status_id') if isinstance(answer, dict) else None
        if not status_id:
            # HIL before status ids answered an empty 202: nothing to poll.
            LOG.warning('HIL gave no status_id for %s; assuming it is applied', what)
            return None
        timeout = self.conf.action_timeout
        deadline = time.monotonic() + timeout
        delay = min(_FIRST_POLL, self.conf.poll_interval)
        while True:
            try:
                action = self.request('GET', 'networking_action', status_id, what=what)
            except HILAPIError as err:
                if err.status == 404:
                    # HIL keeps a status id only until the NIC's next action.
                    raise exception.IsolatorConflict(
                        reason='%s: networking action %s is gone, another action on '
                               'the NIC replaced it' % (what, status_id))
                raise
            status = action.get('status') if isinstance(action, dict) else None
            if status == 'DONE':
                LOG.debug('HIL action %s (%s) done', status_id, what)
                return action
            if status == 'ERROR':
                raise exception.BackendError(
                    backend=BACKEND,
                    reason='%s: networking action %s ended in ERROR (see HIL\'s '
                           'networking daemon log)' % (what, status_id))
            if status != 'PENDING':
                raise exception.BackendError(
                    backend=BACKEND, reason='%s: networking action %s has unknown status %r'
                    % (what, status_id, status))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise exception.BackendUnavailable(
                    backend=BACKEND,
                    reason='%s: networking action %s still PENDING after %ss '
                           '([hil] action_timeout)' % (what, status_id, timeout))
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, self.conf.poll_interval)
