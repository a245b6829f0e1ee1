"""m2-dbsync: create or upgrade the database schema (``upgrade``, ``version``)."""

import sys

from oslo_config import cfg

from m2.common import config
from m2.conf import CONF
from m2.db import api as db_api
from m2.db import migration


def _upgrade():
    migration.upgrade(CONF.command.revision)
    print('Database at revision %s' % migration.version())


def _version():
    print(migration.version() or 'empty (run m2-dbsync upgrade)')


def _add_commands(subparsers):
    parser = subparsers.add_parser('upgrade', help='Upgrade the schema (default: to head).')
    parser.add_argument('--revision', default='head')
    parser.set_defaults(func=_upgrade)
    parser = subparsers.add_parser('version', help='Print the current schema revision.')
    parser.set_defaults(func=_version)


def main(argv=None):
    CONF.register_cli_opt(cfg.SubCommandOpt('command', title='Commands',
                                            handler=_add_commands))
    config.parse_args(sys.argv[1:] if argv is None else argv)
    db_api.setup()
    CONF.command.func()


if __name__ == '__main__':
    sys.exit(main())
