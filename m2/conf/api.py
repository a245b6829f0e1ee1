"""[api] options: the REST API server."""

from oslo_config import cfg

group = cfg.OptGroup('api', title='REST API options')

opts = [
    cfg.HostAddressOpt('host_ip', default='127.0.0.1',
                       help='Address the API server listens on.'),
    cfg.PortOpt('port', default=6385, help='Port the API server listens on.'),
    cfg.IntOpt('workers', default=8, min=1,
               help='Number of threads serving API requests.'),
    cfg.StrOpt('auth_strategy', default='noauth', choices=['noauth', 'keystone'],
               help='noauth: every request acts as an admin of every project '
                    '(embedded default, never expose it). keystone: '
                    'keystonemiddleware auth_token validates every request.'),
    cfg.IntOpt('max_upload_size', default=1024 * 1024 * 1024 * 1024,
               help='Largest image upload accepted, in bytes.'),
    cfg.StrOpt('staging_dir', default='$state_path/staging',
               help='Directory where uploads are staged before a conductor '
                    'writes them into storage. With separate API and conductor '
                    'hosts it must be shared between them.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
