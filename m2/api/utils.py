"""Small helpers shared by the controllers."""

import pecan

from m2.api import validation
from m2.common import exception, policy


def body(schema):
    """The request's JSON body, validated against ``schema``."""
    request = pecan.request
    if not request.body:
        data = {}
    else:
        try:
            data = request.json
        except ValueError:
            raise exception.Invalid(reason='the body is not valid JSON')
    return validation.validate(data, schema)


def status(code):
    pecan.response.status = code


def authorize(rule):
    policy.authorize(rule, pecan.request.context)


def ctx():
    return pecan.request.context


def conductor():
    return pecan.request.conductor


def flag(value, name):
    """A boolean query parameter."""
    if value is None:
        return False
    if str(value).lower() in ('1', 'true', 'yes'):
        return True
    if str(value).lower() in ('0', 'false', 'no'):
        return False
    raise exception.Invalid(reason='query parameter %s must be true or false' % name)


def allowed_methods(generic_function):
    """The methods a pecan generic controller answers, for a 405 message."""
    methods = getattr(generic_function, '_pecan', {}).get('generic_handlers', {})
    return ', '.join(sorted(m for m in methods if m != 'DEFAULT')) or 'none'
