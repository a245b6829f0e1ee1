"""Request bodies checked against JSON schemas, with errors naming the field."""

import jsonschema

from m2.common import exception

NAME = {'type': 'string', 'minLength': 1, 'maxLength': 63,
        'pattern': r'^[A-Za-z0-9][A-Za-z0-9._-]*\Z'}
OPTIONAL_NAME = {'anyOf': [NAME, {'type': 'null'}]}
STORAGE_NAME = {'type': 'string', 'minLength': 1, 'maxLength': 255,
                'pattern': r'^[A-Za-z0-9][A-Za-z0-9._-]*\Z'}
FREE_TEXT = {'type': ['string', 'null'], 'maxLength': 255, 'pattern': r'^[^\x00-\x1f\x7f]*\Z'}
MAC = {'type': 'string', 'pattern': r'^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}\Z'}
NIC = {'type': 'string', 'minLength': 1, 'maxLength': 63,
       'pattern': r'^[A-Za-z0-9][A-Za-z0-9._:/-]*\Z'}


def obj(properties, required=()):
    return {'type': 'object', 'properties': properties, 'required': list(required),
            'additionalProperties': False}


def validate(body, schema):
    """Return ``body`` if it matches ``schema``; else raise Invalid (400)."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        field = '/'.join(str(p) for p in error.path)
        if error.validator == 'pattern' or error.validator == 'anyOf':
            reason = '%r has characters that are not allowed' % (error.instance,)
        else:
            reason = error.message
        if field:
            reason = 'field %r: %s' % (field, reason)
        raise exception.Invalid(reason=reason)
    return body
