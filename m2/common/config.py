"""Process start-up: parse the command line and config files, set up logging."""

import os

from oslo_log import log

from m2.conf import CONF
from m2.version import version_string


def parse_args(argv, default_config_files=None):
    """Parse ``argv`` (without the program name) into CONF and set up logging.

    Config files: ``--config-file`` options, else /etc/m2/m2.conf if present.
    """
    log.register_options(CONF)
    if default_config_files is None:
        default_config_files = [f for f in ('/etc/m2/m2.conf',) if os.path.exists(f)]
    CONF(argv, project='m2', version=version_string(),
         default_config_files=default_config_files)
    log.setup(CONF, 'm2')
