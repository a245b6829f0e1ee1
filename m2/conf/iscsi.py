"""[iscsi] options shared by every iSCSI target driver."""

from oslo_config import cfg

group = cfg.OptGroup('iscsi', title='Options for every iSCSI driver')

opts = [
    cfg.StrOpt('iqn_prefix', default='iqn.2026-11.org.m2',
               regex=r'^iqn\.\d{4}-\d{2}\.[a-z0-9.-]+$',
               help='Prefix of the IQNs m2 gives targets (<prefix>:<uid>-<node>) '
                    'and node initiators (<prefix>:initiator:<node>).'),
    cfg.ListOpt('portals', default=['127.0.0.1:3260'],
                help='host:port portals where nodes reach the targets. More '
                     'than one is offered to nodes for multipath.'),
    cfg.BoolOpt('chap', default=False,
                help='Give every target a CHAP account with a per-node '
                     'generated secret.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
