"""m2-server: API and conductor in one process (the embedded default)."""

import logging
import sys

from m2.api import app as api_app
from m2.cmd import common

LOG = logging.getLogger(__name__)


def main(argv=None):
    manager = common.start_conductor(sys.argv[1:] if argv is None else argv)
    try:
        common.serve_wsgi(api_app.setup_app(manager=manager))
    finally:
        LOG.info('Stopping: waiting for running operations')
        manager.stop(wait=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
