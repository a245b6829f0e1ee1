"""WSGI middleware: every error answer is JSON, whoever produced it."""

import json

import webob

#: WSGI environ key where a controller streaming a body puts its length.
STREAM_LENGTH = 'm2.stream_length'


class JSONErrorMiddleware:
    """Rewrite non-JSON error responses (pecan's 404/405, auth_token's 401)
    into m2's ``{"error": {"code", "title", "message"}}`` body, and give
    streamed bodies back the Content-Length pecan drops."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        request = webob.Request(environ)
        response = request.get_response(self.app)
        if response.status_int == 200 and STREAM_LENGTH in environ:
            response.content_length = environ[STREAM_LENGTH]
        if response.status_int >= 400 and response.content_type != 'application/json':
            message = _plain_message(response)
            body = {'error': {'code': response.status_int,
                              'title': response.status.split(' ', 1)[-1],
                              'message': message}}
            response.content_type = 'application/json'
            response.charset = 'UTF-8'
            response.body = json.dumps(body).encode()
        return response(environ, start_response)


def _plain_message(response):
    text = response.text if response.charset else ''
    if response.content_type == 'text/html' or '<' in text:
        return response.status.split(' ', 1)[-1]
    return text.strip() or response.status.split(' ', 1)[-1]


class PublicPathsMiddleware:
    """Serve version discovery (``/``, ``/v1``) without authentication, as
    OpenStack services do, and everything else through ``protected``."""

    PUBLIC = frozenset(['', '/', '/v1', '/v1/'])

    def __init__(self, public, protected):
        self.public = public
        self.protected = protected

    def __call__(self, environ, start_response):
        if environ.get('PATH_INFO', '') in self.PUBLIC and environ['REQUEST_METHOD'] in (
                'GET', 'HEAD'):
            return self.public(environ, start_response)
        return self.protected(environ, start_response)
