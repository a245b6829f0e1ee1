"""[DEFAULT] options: where m2 keeps its state and how it names things."""

import socket

from oslo_config import cfg

opts = [
    cfg.StrOpt('state_path', default='/var/lib/m2',
               help='Directory where m2 keeps its state: the SQLite database of '
                    'the embedded default, file-storage images, the state files '
                    'of the fake drivers and upload staging files.'),
    cfg.StrOpt('uid', default='m2', regex=r'^[a-z0-9]{1,16}$',
               help='Short identifier of this m2 deployment. Every storage name '
                    'm2 creates starts with it (<uid>img<id>, <uid>node<id>), so '
                    'several deployments can share one pool and the audit knows '
                    'which objects are its own.'),
    cfg.StrOpt('host', default=socket.gethostname(), sample_default='<hostname>',
               help='Name of this conductor host, recorded on the resources it '
                    'works on so that a restarted conductor finds its own '
                    'interrupted operations.'),
]


def register_opts(conf):
    conf.register_opts(opts)
