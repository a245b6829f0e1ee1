"""[iet] options: the iSCSI Enterprise Target (ietd) driver."""

from oslo_config import cfg

group = cfg.OptGroup('iet', title='IET iSCSI driver')

opts = [
    cfg.StrOpt('ietd_conf', default='/etc/iet/ietd.conf',
               help='ietd.conf file the driver keeps its stanzas in (ietd reads '
                    'it at start, so targets survive an ietd restart).'),
    cfg.StrOpt('ietadm_path', default='ietadm', help='ietadm command.'),
    cfg.StrOpt('initiators_allow', default='/etc/iet/initiators.allow',
               help='IET initiators.allow: one "<target> <initiator>" line per '
                    'm2 target.'),
    cfg.StrOpt('initiators_deny', default='/etc/iet/initiators.deny',
               help='IET initiators.deny: one "<target> ALL" line per m2 target, '
                    'because IET lets in any initiator no rule matches.'),
    cfg.StrOpt('proc_dir', default='/proc/net/iet',
               help='Where the IET kernel module shows its volumes and sessions.'),
    cfg.IntOpt('ietadm_timeout', default=30, min=1,
               help='Seconds to wait for one ietadm command.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
