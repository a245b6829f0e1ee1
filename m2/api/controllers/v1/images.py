"""``/v1/images``: golden images and snapshots, their data and copies."""

import os
import uuid

import pecan

from m2.api import middleware, utils
from m2.api import validation as v
from m2.api.utils import allowed_methods as _allowed
from m2.common import exception, states
from m2.conf import CONF

CREATE = v.obj({'name': v.NAME, 'project': v.OPTIONAL_NAME, 'source': v.STORAGE_NAME,
                'source_snapshot': v.NAME, 'public': {'type': 'boolean'}},
               required=['name'])
EXPORT = v.obj({'storage_name': v.STORAGE_NAME}, required=['storage_name'])
COPY = v.obj({'project': v.NAME, 'name': v.NAME}, required=['project'])
MOVE = v.obj({'project': v.NAME}, required=['project'])

QCOW2_MAGIC = b'QFI\xfb'
KINDS = (states.GOLDEN, states.SNAPSHOT)


class ImageFileController:
    """``/v1/images/<image>/file``: upload (PUT) and download (GET) the data."""

    def __init__(self, image):
        self.image = image

    @pecan.expose(generic=True)
    def index(self, *args, **kwargs):
        raise exception.MethodNotAllowed(allowed=_allowed(self.index))

    @index.when(method='GET')
    def index_get(self):
        utils.authorize('m2:image:download')
        image = utils.conductor().get_image(utils.ctx(), self.image,
                                            pecan.request.GET.get('project'))
        if image['status'] != states.ACTIVE:
            raise exception.ImageNotReady(image=image['name'], status=image['status'])
        data = pecan.request.image_data
        response = pecan.response
        response.content_type = 'application/octet-stream'
        response.headers['Content-Disposition'] = 'attachment; filename="%s.raw"' % image['name']
        response.app_iter = data.iter_image(image['storage_name'])
        # pecan re-wraps streamed bodies and drops their length; the
        # middleware puts it back (m2.api.middleware.STREAM_LENGTH).
        pecan.request.environ[middleware.STREAM_LENGTH] = data.size(image['storage_name'])
        return response

    @index.when(method='PUT', template='json')
    def upload(self):
        utils.authorize('m2:image:create')
        request = pecan.request
        length = request.content_length
        if length is None:
            raise exception.Invalid(reason='a Content-Length header is required')
        if length > CONF.api.max_upload_size:
            raise exception.RequestTooLarge(reason='%d bytes is over the %d allowed' %
                                            (length, CONF.api.max_upload_size))
        image = utils.conductor().get_image(utils.ctx(), self.image,
                                            request.GET.get('project'))
        if image['status'] not in (states.QUEUED, states.ERROR):
            raise exception.ImageNotReady(image=image['name'], status=image['status'])
        os.makedirs(CONF.api.staging_dir, mode=0o700, exist_ok=True)
        path = os.path.join(CONF.api.staging_dir, '%s.upload' % uuid.uuid4())
        disk_format = _stage(request.body_file, length, path)
        image = utils.conductor().upload_image(utils.ctx(), image['id'], path, length,
                                               disk_format)
        utils.status(202)
        return image


def _stage(stream, length, path):
    """Copy ``length`` bytes of the body to ``path``; return 'raw' or 'qcow2'."""
    remaining, first = length, b''
    try:
        with open(path, 'wb') as out:
            while remaining > 0:
                chunk = stream.read(min(CONF.storage.chunk_size, remaining))
                if not chunk:
                    raise exception.Invalid(reason='the body ended %d bytes early' % remaining)
                if not first:
                    first = chunk[:4]
                out.write(chunk)
                remaining -= len(chunk)
    except BaseException:
        os.unlink(path)
        raise
    return 'qcow2' if first == QCOW2_MAGIC else 'raw'


class ImageController:
    def __init__(self, ident):
        self.ident = ident
        self.file = ImageFileController(ident)

    def _project(self):
        return pecan.request.GET.get('project')

    @pecan.expose('json', generic=True)
    def index(self, *args, **kwargs):
        raise exception.MethodNotAllowed(allowed=_allowed(self.index))

    @index.when(method='GET', template='json')
    def index_get(self):
        utils.authorize('m2:image:get')
        return utils.conductor().get_image(utils.ctx(), self.ident, self._project())

    @index.when(method='DELETE', template='json')
    def delete(self):
        utils.authorize('m2:image:delete')
        image = utils.conductor().get_image(utils.ctx(), self.ident, self._project())
        image = utils.conductor().delete_image(utils.ctx(), image['id'])
        utils.status(202)
        return image

    @pecan.expose('json', generic=True)
    def export(self, *args, **kwargs):
        raise exception.MethodNotAllowed(allowed=_allowed(self.export))

    @export.when(method='POST', template='json')
    def export_post(self):
        utils.authorize('m2:image:update')
        body = utils.body(EXPORT)
        image = utils.conductor().get_image(utils.ctx(), self.ident, self._project())
        image = utils.conductor().export_image(utils.ctx(), image['id'], body['storage_name'])
        utils.status(202)
        return image

    @pecan.expose('json', generic=True)
    def copy(self, *args, **kwargs):
        raise exception.MethodNotAllowed(allowed=_allowed(self.copy))

    @copy.when(method='POST', template='json')
    def copy_post(self):
        utils.authorize('m2:image:create')
        body = utils.body(COPY)
        image = utils.conductor().get_image(utils.ctx(), self.ident, self._project())
        image = utils.conductor().copy_image(utils.ctx(), image['id'], body['project'],
                                             body.get('name'))
        utils.status(202)
        return image

    @pecan.expose('json', generic=True)
    def move(self, *args, **kwargs):
        raise exception.MethodNotAllowed(allowed=_allowed(self.move))

    @move.when(method='POST', template='json')
    def move_post(self):
        utils.authorize('m2:image:update')
        body = utils.body(MOVE)
        image = utils.conductor().get_image(utils.ctx(), self.ident, self._project())
        return utils.conductor().move_image(utils.ctx(), image['id'], body['project'])


class ImagesController:
    @pecan.expose('json', generic=True)
    def index(self, *args, **kwargs):
        raise exception.MethodNotAllowed(allowed=_allowed(self.index))

    @index.when(method='GET', template='json')
    def index_get(self, project=None, kind=None, all_projects=None):
        utils.authorize('m2:image:get')
        all_projects = utils.flag(all_projects, 'all_projects')
        if all_projects:
            utils.authorize('m2:image:all_projects')
        if kind is not None and kind not in KINDS:
            raise exception.Invalid(reason='kind must be one of %s' % ', '.join(KINDS))
        return {'images': utils.conductor().list_images(
            utils.ctx(), project=project, kind=kind, all_projects=all_projects)}

    @index.when(method='POST', template='json')
    def create(self):
        utils.authorize('m2:image:create')
        body = utils.body(CREATE)
        if body.get('source'):
            image = utils.conductor().import_image(
                utils.ctx(), body.get('project'), body['name'], body['source'],
                source_snapshot=body.get('source_snapshot'), public=body.get('public', False))
            utils.status(202)
        else:
            if body.get('source_snapshot'):
                raise exception.Invalid(reason='source_snapshot needs a source')
            image = utils.conductor().create_image(utils.ctx(), body.get('project'),
                                                   body['name'], public=body.get('public', False))
            utils.status(201)
        return image

    @pecan.expose()
    def _lookup(self, ident, *remainder):
        return ImageController(ident), remainder
