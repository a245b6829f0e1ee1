"""[file_storage] options: the filesystem storage driver."""

from oslo_config import cfg

group = cfg.OptGroup('file_storage', title='file storage driver')

opts = [
    cfg.StrOpt('path', default='$state_path/images',
               help='Directory holding the images, snapshots and clones of '
                    'the file storage driver.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
