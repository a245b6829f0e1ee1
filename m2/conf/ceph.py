"""[ceph] options: the Ceph RBD storage driver."""

from oslo_config import cfg

group = cfg.OptGroup('ceph', title='ceph storage driver')

#: RBD image features m2 may enable on the images it creates.
FEATURE_CHOICES = ('layering', 'exclusive-lock', 'object-map', 'fast-diff', 'deep-flatten')

opts = [
    cfg.StrOpt('pool', default='rbd', help='RBD pool holding m2 images.'),
    cfg.StrOpt('conffile', default='/etc/ceph/ceph.conf',
               help='Ceph configuration file (named <cluster>.conf).'),
    cfg.StrOpt('user', default='admin', help='cephx user name, without "client.".'),
    cfg.StrOpt('keyring', default=None, help='Keyring of the cephx user.'),
    cfg.IntOpt('connect_timeout', default=10, min=1,
               help='Seconds to wait for the cluster when connecting.'),
    cfg.IntOpt('operation_timeout', default=30, min=1,
               help='Seconds a monitor or OSD operation may take before it '
                    'fails with a backend-unavailable error.'),
    cfg.IntOpt('busy_timeout', default=45, min=0,
               help='Seconds removing an image keeps retrying while the image '
                    'still has watchers before it reports the image busy. A '
                    'crashed iSCSI gateway\'s watch outlives it until the OSDs '
                    'expire it (osd_client_watch_timeout, 30 s by default), so a '
                    'deprovision right after such a crash waits instead of '
                    'failing. 0 reports busy at once.'),
    cfg.ListOpt('rbd_features', default=['layering'],
                item_type=cfg.types.String(choices=FEATURE_CHOICES),
                help='Features of the format 2 images m2 creates and clones. '
                     '"layering" is always enabled (clones need it). Plain '
                     'layering keeps images usable by every librbd client, '
                     'tgt included, and avoids exclusive-lock waits after an '
                     'iSCSI gateway dies holding the lock.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
