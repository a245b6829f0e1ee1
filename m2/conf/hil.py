"""[hil] options: the HIL network isolator driver.

HIL (the Hardware Isolation Layer) owns the switches and the nodes' power;
m2's ``hil`` isolator driver speaks its REST API (see ``doc/source/admin/hil.rst``).
"""

from oslo_config import cfg

group = cfg.OptGroup('hil', title='HIL isolator driver')

opts = [
    cfg.URIOpt('url', default='http://127.0.0.1:5001', schemes=['http', 'https'],
               help='Base URL of the HIL API (without /v0).'),
    cfg.StrOpt('auth_type', default='basic', choices=['basic', 'keystone'],
               help='How m2 authenticates to HIL: "basic" sends [hil] username and '
                    'password as HTTP Basic auth; "keystone" sends a Keystone token in '
                    'X-Auth-Token, obtained with the keystoneauth1 options of the '
                    'group named by [hil] keystone_section.'),
    cfg.StrOpt('username', default=None, help='HIL HTTP Basic user.'),
    cfg.StrOpt('password', default=None, secret=True, help='HIL HTTP Basic password.'),
    cfg.StrOpt('keystone_section', default='hil_keystone',
               help='Config group holding the keystoneauth1 auth and session options '
                    '(auth_type, auth_url, username, password, project_name, ...) used '
                    'when [hil] auth_type is "keystone".'),
    cfg.StrOpt('project', default=None,
               help='HIL project that owns the nodes of m2 projects that do not name '
                    'their own isolator project. With Keystone auth HIL project names '
                    'are Keystone project ids.'),
    cfg.StrOpt('provisioning_network', default=None,
               help='HIL network that nodes are attached to while provisioned, for m2 '
                    'projects that do not name their own provisioning network.'),
    cfg.StrOpt('channel', default='vlan/native',
               help='HIL channel the provisioning network is attached on: '
                    '"vlan/native" or "vlan/<id>".'),
    cfg.StrOpt('nic_label', default='eth0',
               help='Label (in HIL) of the NIC nodes network-boot from, used when a '
                    'node is provisioned without naming its NIC.'),
    cfg.FloatOpt('request_timeout', default=10.0, min=0.1,
                 help='Seconds to wait for HIL to connect and answer one HTTP request.'),
    cfg.IntOpt('retries', default=3, min=0,
               help='How many times a request that failed to connect, timed out or got '
                    'a 5xx answer is retried before HIL is reported unavailable (503).'),
    cfg.FloatOpt('retry_backoff', default=0.5, min=0,
                 help='Seconds before the first retry; doubled for each further retry.'),
    cfg.FloatOpt('retry_backoff_max', default=8.0, min=0,
                 help='Upper bound in seconds of the wait between two retries.'),
    cfg.FloatOpt('action_timeout', default=120.0, min=0,
                 help='Seconds to wait for a networking action (connect or detach) to '
                      'leave PENDING before HIL is reported unavailable (503).'),
    cfg.FloatOpt('poll_interval', default=1.0, min=0.01,
                 help='Longest wait in seconds between two polls of a networking '
                      'action; polling starts faster and backs off to this.'),
    cfg.StrOpt('cafile', default=None,
               help='CA bundle to verify an https HIL URL with (default: system CAs).'),
    cfg.BoolOpt('insecure', default=False,
                help='Do not verify the TLS certificate of an https HIL URL.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
