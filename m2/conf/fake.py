"""[fake] options: the fake iSCSI and isolator drivers."""

from oslo_config import cfg

group = cfg.OptGroup('fake', title='fake iSCSI and isolator drivers')

opts = [
    cfg.StrOpt('iscsi_state_file', default='$state_path/fake-iscsi.json',
               help='JSON file where the fake iSCSI driver keeps its targets.'),
    cfg.StrOpt('isolator_state_file', default='$state_path/fake-isolator.json',
               help='JSON file where the fake isolator keeps its nodes, '
                    'attachments and power actions. A node unknown to it is '
                    'created on first use with a MAC derived from its name.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
