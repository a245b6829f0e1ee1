"""[tgt] options: the Linux SCSI target framework (tgtd) driver."""

from oslo_config import cfg

group = cfg.OptGroup('tgt', title='tgt iSCSI driver')

opts = [
    cfg.StrOpt('tgtadm_path', default='tgtadm', help='tgtadm command.'),
    cfg.IntOpt('control_port', default=0, min=0, max=32767,
               help='tgtd control port (tgtd -C N); 0 is the default tgtd. Use '
                    'a tgtd of its own when other software also makes targets.'),
    cfg.IntOpt('tgtadm_timeout', default=30, min=1,
               help='Seconds to wait for one tgtadm command (an rbd LUN opens '
                    'a Ceph connection, so creating one is not instant).'),
    cfg.ListOpt('rbd_bsopts', default=[],
                help='Extra key=value options added to every rbd LUN\'s '
                     '--bsopts after conf=<ceph conf>;id=<user>, e.g. '
                     'cluster=backup. No ";" or "," inside a value.'),
    cfg.IntOpt('max_tid', default=65535, min=1,
               help='Highest target id the driver allocates.'),
    cfg.IntOpt('create_retries', default=10, min=1,
               help='Times to pick another target id when another process '
                    'sharing tgtd took the chosen one first.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
