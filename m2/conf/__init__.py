"""The global configuration object, with every option group registered.

Import ``CONF`` from here; each option group lives in its own module.
"""

from oslo_config import cfg

from m2.conf import (
    api,
    boot,
    ceph,
    conductor,
    database,
    default,
    drivers,
    fake,
    file_storage,
    hil,
    iet,
    iscsi,
    storage,
    tgt,
)

CONF = cfg.CONF

#: Every option module; each registers its options on CONF and, except for
#: [DEFAULT] and [database], defines ``group`` and ``opts``.
MODULES = (default, api, boot, ceph, conductor, database, drivers, fake, file_storage, hil,
           iet, iscsi, storage, tgt)

for _module in MODULES:
    _module.register_opts(CONF)
