"""[conductor] options: how operations run and recover."""

from oslo_config import cfg

group = cfg.OptGroup('conductor', title='Conductor options')

opts = [
    cfg.StrOpt('transport', default='local', choices=['local', 'messaging'],
               help='local: API and conductor in one process (m2-server). '
                    'messaging: the API reaches conductors over oslo.messaging.'),
    cfg.StrOpt('topic', default='m2-conductor',
               help='oslo.messaging topic the conductors listen on (messaging '
                    'transport). Deployments sharing a broker need distinct topics.'),
    cfg.IntOpt('workers', default=8, min=1,
               help='Number of operations a conductor runs at once.'),
    cfg.BoolOpt('recover_on_start', default=True,
                help='At start, roll back or finish the operations a crash of '
                     'this conductor interrupted.'),
    cfg.IntOpt('heartbeat_interval', default=10, min=1,
               help='Seconds between the heartbeats a conductor records in the '
                    'database, each followed by a look for dead conductors.'),
    cfg.IntOpt('heartbeat_timeout', default=60, min=2,
               help='A conductor whose last heartbeat is older than this is dead: '
                    'another conductor takes over the operations it was running '
                    'and rolls them back. Keep it several heartbeat intervals, and '
                    'longer than any pause a healthy conductor may have.'),
    cfg.IntOpt('hash_ring_reset_interval', default=15, min=0,
               help='Seconds a hash ring of live conductors is reused before it '
                    'is rebuilt from the database. The ring decides which '
                    'conductor handles each node (messaging transport) and '
                    'restores its targets.'),
    cfg.IntOpt('hash_partition_exponent', default=5, min=1, max=16,
               help='The hash ring has 2**N partitions per conductor; more '
                    'spread nodes more evenly at the cost of memory.'),
    cfg.IntOpt('sync_interval', default=60, min=0,
               help='Seconds between the periodic checks that restore iSCSI '
                    'targets the database says should exist. 0 disables them.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
