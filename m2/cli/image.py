"""``m2 image ...``: golden images and snapshots, their data and copies."""

import logging
import os

from cliff import command, lister, show

from m2.cli import client as m2_client
from m2.cli import common
from m2.cli.common import q

LOG = logging.getLogger(__name__)

LIST_FIELDS = ('id', 'name', 'project', 'kind', 'status', 'size', 'public')
LIST_HEADERS = ('ID', 'Name', 'Project', 'Kind', 'Status', 'Size', 'Public')
CHUNK = 1024 * 1024
# Seconds between two lines of a transfer's progress.
TRANSFER_THROTTLE = 1.0


def get_image(app, ident, project=None):
    path = '/images/%s' % q(ident)
    if project:
        path += '?project=%s' % q(project)
    return app.client.get(path)


def list_images(app, parsed_args, kind=None):
    """The images ``add_scope_arguments``' options select, of ``kind``."""
    return app.client.get('/images', kind=kind, **common.scope_query(parsed_args))['images']


class ListImage(lister.Lister):
    """List images (golden images and snapshots) visible to you."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.add_scope_arguments(
            parser, 'images', project_help='Only the images of this project (no public ones).')
        parser.add_argument('--kind', choices=('golden', 'snapshot'),
                            help='Only golden images or only snapshots.')
        return parser

    def take_action(self, parsed_args):
        images = list_images(self.app, parsed_args, parsed_args.kind)
        return common.listing(images, LIST_FIELDS, LIST_HEADERS)


class ShowImage(show.ShowOne):
    """Show an image by ID or name."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('image', metavar='<image>', help='Image ID or name.')
        parser.add_argument('--project', metavar='<project>',
                            help='Project the image name belongs to.')
        return parser

    def take_action(self, parsed_args):
        return common.show(get_image(self.app, parsed_args.image, parsed_args.project))


class ImportImage(show.ShowOne):
    """Import a storage image (or one of its snapshots) as a golden image.

    The source stays untouched: m2 makes its own flattened copy.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='<name>', help='Name of the new image.')
        parser.add_argument('--source', metavar='<storage-image>', required=True,
                            help='Name of the image in storage (RBD image or file).')
        parser.add_argument('--source-snapshot', metavar='<snapshot>',
                            help='Import this snapshot of the source instead of its head.')
        parser.add_argument('--project', metavar='<project>',
                            help='Project that owns the image.')
        parser.add_argument('--public', action='store_true',
                            help='Make the image visible to every project.')
        return common.add_wait_arguments(parser, 'import')

    def take_action(self, parsed_args):
        body = {'name': parsed_args.name, 'source': parsed_args.source,
                'public': parsed_args.public}
        if parsed_args.source_snapshot:
            body['source_snapshot'] = parsed_args.source_snapshot
        if parsed_args.project:
            body['project'] = parsed_args.project
        image = self.app.client.post('/images', body)
        return common.show(common.wait_image(self.app, image, parsed_args, 'import'))


class _ReadProgress:
    """A file read in chunks for requests' body, reporting bytes sent.

    ``__len__`` gives requests the Content-Length (the API requires it) and
    ``__iter__`` keeps the upload streaming: the file is never read whole.
    """

    def __init__(self, fileobj, size, name, progress):
        self.fileobj = fileobj
        self.size = size
        self.sent = 0
        self.name = name
        self.progress = progress

    def __len__(self):
        return self.size

    def read(self, amount=CHUNK):
        chunk = self.fileobj.read(min(amount if amount and amount > 0 else CHUNK, CHUNK))
        self.sent += len(chunk)
        self.progress.update(transfer_text('sending', self.name, self.sent, self.size))
        return chunk

    def __iter__(self):
        while True:
            chunk = self.read(CHUNK)
            if not chunk:
                return
            yield chunk


def transfer_text(verb, name, done, total):
    if total:
        return '%s image %s: %s of %s (%d%%)' % (verb, name, common.human_size(done),
                                                 common.human_size(total),
                                                 done * 100 // total)
    return '%s image %s: %s' % (verb, name, common.human_size(done))


class UploadImage(show.ShowOne):
    """Create an image from a local file (raw or qcow2), streamed to the API."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='<name>', help='Name of the new image.')
        parser.add_argument('--file', metavar='<path>', required=True,
                            help='Local image file, raw or qcow2 (detected).')
        parser.add_argument('--project', metavar='<project>',
                            help='Project that owns the image.')
        parser.add_argument('--public', action='store_true',
                            help='Make the image visible to every project.')
        return common.add_wait_arguments(parser, 'upload')

    def take_action(self, parsed_args):
        try:
            fileobj = open(parsed_args.file, 'rb')
        except OSError as exc:
            raise m2_client.CommandError('Cannot read %s: %s' % (parsed_args.file,
                                                                 exc.strerror))
        with fileobj:
            size = os.fstat(fileobj.fileno()).st_size
            body = {'name': parsed_args.name, 'public': parsed_args.public}
            if parsed_args.project:
                body['project'] = parsed_args.project
            image = self.app.client.post('/images', body)
            progress = common.progress_for(self.app, throttle=TRANSFER_THROTTLE)
            data = _ReadProgress(fileobj, size, image['name'], progress)
            try:
                resp = self.app.client.request(
                    'PUT', '/images/%s/file' % q(image['id']), data=data,
                    headers={'Content-Type': 'application/octet-stream',
                             'Content-Length': str(size)})
            except m2_client.CommandError as exc:
                raise m2_client.CommandError(
                    '%s (image %s stays queued: retry with "m2 image delete %s")'
                    % (exc, image['name'], image['id']))
            finally:
                progress.done()
        image = resp.json()
        return common.show(common.wait_image(self.app, image, parsed_args, 'upload'))


class DownloadImage(command.Command):
    """Save an image's data (raw) to a local file, streamed."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('image', metavar='<image>', help='Image ID or name.')
        parser.add_argument('--file', metavar='<path>', required=True,
                            help='Local file to write (replaced if it exists).')
        parser.add_argument('--project', metavar='<project>',
                            help='Project the image name belongs to.')
        return parser

    def take_action(self, parsed_args):
        image = get_image(self.app, parsed_args.image, parsed_args.project)
        resp = self.app.client.request('GET', '/images/%s/file' % q(image['id']),
                                       stream=True)
        total = int(resp.headers.get('Content-Length') or 0)
        progress = common.progress_for(self.app, throttle=TRANSFER_THROTTLE)
        partial = parsed_args.file + '.part'
        done = 0
        try:
            with open(partial, 'wb') as out:
                for chunk in resp.iter_content(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    progress.update(transfer_text('downloading', image['name'], done, total))
            if total and done != total:
                raise m2_client.CommandError('Download of %s ended after %d of %d bytes'
                                             % (image['name'], done, total))
            os.replace(partial, parsed_args.file)
        except OSError as exc:
            raise m2_client.CommandError('Cannot write %s: %s' % (parsed_args.file,
                                                                  exc.strerror))
        finally:
            progress.done()
            resp.close()
            if os.path.exists(partial):
                os.unlink(partial)
        common.note(self.app, 'Saved image %s (%s) to %s' % (
            image['name'], common.human_size(done), parsed_args.file))
        return 0


class ExportImage(show.ShowOne):
    """Copy an image into a new, independent storage image (clone + flatten)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('image', metavar='<image>', help='Image ID or name.')
        parser.add_argument('storage_name', metavar='<storage-name>',
                            help='Name of the new image in storage.')
        parser.add_argument('--project', metavar='<project>',
                            help='Project the image name belongs to.')
        return common.add_wait_arguments(parser, 'export')

    def take_action(self, parsed_args):
        image = get_image(self.app, parsed_args.image, parsed_args.project)
        image = self.app.client.post('/images/%s/export' % q(image['id']),
                                     {'storage_name': parsed_args.storage_name})
        if parsed_args.wait:
            # The image stays active while exported: watch its task instead.
            image = common.Waiter(self.app, 'image', parsed_args.timeout).until(
                '/images/%s' % q(image['id']), 'status', common.IMAGE_TRANSITIONAL,
                busy=lambda i: (i.get('progress') or {}).get('task') == 'export')
            if image.get('last_error'):
                raise common.image_failed(image, 'export')
        return common.show(image)


class CopyImage(show.ShowOne):
    """Deep-copy an image into another project, as a new golden image."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('image', metavar='<image>', help='Image ID or name.')
        parser.add_argument('--project', metavar='<project>', required=True,
                            help='Project that receives the copy.')
        parser.add_argument('--name', metavar='<name>',
                            help='Name of the copy (default: the same name).')
        return common.add_wait_arguments(parser, 'copy')

    def take_action(self, parsed_args):
        body = {'project': parsed_args.project}
        if parsed_args.name:
            body['name'] = parsed_args.name
        image = self.app.client.post('/images/%s/copy' % q(parsed_args.image), body)
        return common.show(common.wait_image(self.app, image, parsed_args, 'copy'))


class MoveImage(show.ShowOne):
    """Give an image to another project."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('image', metavar='<image>', help='Image ID or name.')
        parser.add_argument('--project', metavar='<project>', required=True,
                            help='Project that receives the image.')
        return parser

    def take_action(self, parsed_args):
        return common.show(self.app.client.post(
            '/images/%s/move' % q(parsed_args.image), {'project': parsed_args.project}))


def delete_images(app, idents, parsed_args, kind='image'):
    """Delete each image; report every failure, raise if any failed."""
    failures = 0
    for ident in idents:
        try:
            image = get_image(app, ident, getattr(parsed_args, 'project', None))
            image = app.client.delete('/images/%s' % q(image['id']))
            if common.wait_image_deleted(app, image, parsed_args) is None:
                common.note(app, 'Deleted %s %s' % (kind, ident))
            else:
                common.note(app, 'Deleting %s %s' % (kind, ident))
        except m2_client.CommandError as exc:
            failures += 1
            app.stderr.write('%s\n' % exc)
    if failures:
        raise m2_client.CommandError('%d of %d %ss could not be deleted'
                                     % (failures, len(idents), kind))


class DeleteImage(command.Command):
    """Delete images (refused while nodes or other images depend on them)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('images', metavar='<image>', nargs='+',
                            help='Image ID or name.')
        parser.add_argument('--project', metavar='<project>',
                            help='Project the image names belong to.')
        return common.add_wait_arguments(parser, 'deletion')

    def take_action(self, parsed_args):
        delete_images(self.app, parsed_args.images, parsed_args)
        return 0
