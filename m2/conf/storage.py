"""[storage] options shared by every storage driver."""

from oslo_config import cfg

group = cfg.OptGroup('storage', title='Options for every storage driver')

opts = [
    cfg.StrOpt('snapshot_name', default='m2golden', regex=r'^[A-Za-z0-9_.-]{1,64}$',
               help='Name of the protected snapshot every m2 image keeps so '
                    'that nodes can be cloned from it.'),
    cfg.IntOpt('chunk_size', default=4 * 1024 * 1024, min=4096,
               help='Bytes read or written at a time when streaming image '
                    'data (upload, download, full copies).'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
