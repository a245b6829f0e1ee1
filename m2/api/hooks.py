"""Pecan hooks: the request context, the conductor client, errors as JSON."""

import json
import logging

import webob
from oslo_db import exception as db_exc
from pecan import hooks

from m2.common import context as m2_context
from m2.common import exception, policy
from m2.conf import CONF

LOG = logging.getLogger(__name__)


class ContextHook(hooks.PecanHook):
    """Build the request context from keystonemiddleware's headers.

    auth_token has validated the token and replaced any X-Roles/X-Project-Id
    a client sent. With ``noauth`` every caller is an admin with no project.
    """

    def before(self, state):
        if CONF.api.auth_strategy == 'noauth':
            state.request.context = m2_context.get_admin_context()
            return
        ctx = m2_context.RequestContext.from_environ(state.request.environ)
        # The admin_api rule (default role:admin) makes an operator, who
        # passes every rule and reaches every project.
        ctx.is_admin = policy.check_is_admin(ctx)
        state.request.context = ctx


class ConductorHook(hooks.PecanHook):
    """Give controllers ``pecan.request.conductor`` and ``image_data``."""

    def __init__(self, conductor_api, image_data):
        self.conductor_api = conductor_api
        self.image_data = image_data

    def before(self, state):
        state.request.conductor = self.conductor_api
        state.request.image_data = self.image_data


def error_response(code, message):
    body = {'error': {'code': code, 'title': webob.exc.status_map.get(code, webob.exc.HTTPError)
                      .title, 'message': message}}
    return webob.Response(status=code, content_type='application/json', charset='UTF-8',
                          body=json.dumps(body).encode())


class ErrorHook(hooks.PecanHook):
    """The one place m2's exception tree becomes HTTP statuses."""

    def on_error(self, state, exc):
        if isinstance(exc, exception.M2Exception):
            if exc.code >= 500:
                LOG.error('%s: %s', type(exc).__name__, exc.message)
            return error_response(exc.code, exc.message)
        if isinstance(exc, webob.exc.HTTPException):
            return error_response(exc.code, exc.detail or exc.explanation)
        if isinstance(exc, db_exc.DBConnectionError):
            LOG.error('Database unreachable serving %s %s: %s', state.request.method,
                      state.request.path, exc)
            return error_response(503, 'The database is unreachable; try again later.')
        LOG.exception('Unexpected error serving %s %s', state.request.method,
                      state.request.path)
        return error_response(500, 'Internal error; the API log has the details.')
