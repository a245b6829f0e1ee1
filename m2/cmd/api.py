"""m2-api: the REST API alone; conductors are reached over oslo.messaging."""

import sys

from m2.api import app as api_app
from m2.cmd import common
from m2.conf import CONF


def main(argv=None):
    common.prepare_service(sys.argv[1:] if argv is None else argv)
    if CONF.conductor.transport != 'messaging':
        sys.exit('m2-api needs [conductor] transport = messaging (or run m2-server).')
    common.serve_wsgi(api_app.setup_app())
    return 0


if __name__ == '__main__':
    sys.exit(main())
