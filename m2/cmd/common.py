"""What every m2 service does at start: config, state directory, schema check."""

import logging
import os
import sys

from m2.common import config, exception
from m2.conf import CONF
from m2.db import api as db_api
from m2.db import migration

LOG = logging.getLogger(__name__)


def prepare_service(argv):
    config.parse_args(argv)
    os.makedirs(CONF.state_path, exist_ok=True)
    db_api.setup()


def check_schema():
    """Refuse to start on a database that is not at the latest migration."""
    problem = migration.outdated()
    if problem:
        sys.exit(problem)


def load_manager():
    from m2.conductor import manager
    try:
        return manager.ConductorManager()
    except exception.M2Exception as exc:
        sys.exit('m2 cannot start: %s' % exc)


def start_conductor(argv):
    """What m2-server and m2-conductor do first: config, schema check, then
    a conductor that has recovered from any crash and runs its loops."""
    prepare_service(argv)
    check_schema()
    manager = load_manager()
    manager.start()
    manager.start_periodic_tasks()
    return manager


def serve_wsgi(app):
    """Serve ``app`` on [api] host_ip:port until SIGTERM or SIGINT."""
    import signal

    import waitress

    server = waitress.create_server(app, host=CONF.api.host_ip, port=CONF.api.port,
                                    threads=CONF.api.workers, ident='m2')

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    LOG.info('M2 API listening on http://%s:%s/', CONF.api.host_ip, CONF.api.port)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
