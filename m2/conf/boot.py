"""[boot] options shared by the boot drivers."""

from oslo_config import cfg

group = cfg.OptGroup('boot', title='Boot drivers (pxe, ipxe)')

opts = [
    cfg.StrOpt('tftp_root', default='$state_path/tftpboot',
               help='TFTP root the boot drivers write node files under: '
                    'm2/<mac-with-dashes>.ipxe per node, boot.ipxe (ipxe '
                    'driver) and pxelinux.cfg/01-<mac-with-dashes> (pxe '
                    'driver). Nothing is ever written outside it.'),
    cfg.StrOpt('ipxe_template', default=None,
               help='Jinja2 template of the per-node iPXE script. Default: '
                    'the one shipped in m2/drivers/boot/templates. It is '
                    'rendered with name, mac, initiator_iqn, target_iqn, '
                    'uris (iscsi:<host>::<port>:<lun>:<iqn>, one per portal), '
                    'chap (user, secret or None), interface, keep_san, '
                    'attempts and retry_delay, every value already validated.'),
    cfg.StrOpt('interface', default=None, regex=r'^[A-Za-z0-9_-]{1,32}$',
               help='Network interface iPXE configures with DHCP (net0, '
                    'net1...). Default: whichever interface answers.'),
    cfg.IntOpt('sanboot_retries', default=5, min=0,
               help='How many times the iPXE script retries sanboot when the '
                    'target is not reachable.'),
    cfg.IntOpt('sanboot_retry_delay', default=2, min=0,
               help='Seconds the iPXE script waits between sanboot attempts.'),
    cfg.BoolOpt('keep_san', default=True,
                help='Keep the SAN device registered after the OS takes over '
                     '(iPXE keep-san), so the OS can find it through the iBFT.'),
    cfg.StrOpt('pxe_ipxe_kernel', default='ipxe.lkrn',
               regex=r'^[A-Za-z0-9_][A-Za-z0-9_./-]{0,127}$',
               help='iPXE kernel the pxe driver\'s pxelinux.cfg files load, '
                    'relative to the TFTP root (from the ipxe package). The '
                    'operator puts it there.'),
    cfg.StrOpt('dhcp_leases_file', default='/var/lib/misc/dnsmasq.leases',
               help='dnsmasq lease file "m2 node ip" reads node addresses from.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
