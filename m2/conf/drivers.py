"""[drivers] options: which driver of each kind the conductor loads."""

from oslo_config import cfg

group = cfg.OptGroup('drivers', title='Driver selection',
                     help='Each option names a stevedore entry point in the '
                          'matching m2.drivers.<kind> namespace.')

opts = [
    cfg.StrOpt('storage', default='file',
               help='Storage driver (m2.drivers.storage): file, ceph.'),
    cfg.StrOpt('iscsi', default='fake',
               help='iSCSI target driver (m2.drivers.iscsi): fake, tgt, iet.'),
    cfg.StrOpt('isolator', default='fake',
               help='Network isolator driver (m2.drivers.isolator): fake, hil.'),
    cfg.StrOpt('boot', default='ipxe',
               help='Boot driver (m2.drivers.boot): ipxe, pxe.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
