"""m2-status: pre-flight and upgrade checks an operator runs before starting m2.

``m2-status upgrade check`` (oslo.upgradecheck) reports, each as Success,
Warning or Failure, whether the database schema is current, whether every
configured driver loads, and whether the unauthenticated API is exposed
beyond loopback. It exits 0, 1 or 2 for the worst result, so deployment
tools can gate on it.
"""

import ipaddress
import os
import sys

from oslo_upgradecheck import common_checks, upgradecheck

from m2.common import exception
from m2.conf import CONF

Code = upgradecheck.Code
Result = upgradecheck.Result


class Checks(upgradecheck.UpgradeCommands):
    """The checks, in the order they are reported."""

    def _check_schema(self):
        from m2.db import migration
        from m2.db.sqlalchemy import api as db_api
        try:
            db_api.setup()
            problem = migration.outdated()
        except Exception as exc:
            return Result(Code.FAILURE, 'Cannot read the database in [database] connection: '
                                        '%s' % exc)
        if problem:
            return Result(Code.FAILURE, problem)
        return Result(Code.SUCCESS, 'The database is at revision %s.' % migration.head())

    def _check_drivers(self):
        from m2.drivers import factory
        problems, loaded = [], []
        for kind in factory.KINDS:
            name = getattr(CONF.drivers, kind)
            try:
                factory.load(kind, name)
            except exception.M2Exception as exc:
                problems.append(str(exc))
            else:
                loaded.append('%s=%s' % (kind, name))
        if problems:
            return Result(Code.FAILURE, '; '.join(problems))
        return Result(Code.SUCCESS, 'Loaded ' + ', '.join(loaded) + '.')

    def _check_noauth_exposure(self):
        if CONF.api.auth_strategy != 'noauth':
            return Result(Code.SUCCESS)
        try:
            loopback = ipaddress.ip_address(CONF.api.host_ip).is_loopback
        except ValueError:  # a host name: cannot tell, so say it
            loopback = CONF.api.host_ip == 'localhost'
        if loopback:
            return Result(Code.SUCCESS, '[api] auth_strategy is noauth on loopback only.')
        return Result(Code.WARNING,
                      '[api] auth_strategy is noauth and [api] host_ip is %s: anyone who '
                      'reaches that address is an admin. Use auth_strategy = keystone.'
                      % CONF.api.host_ip)

    _upgrade_checks = (
        ('Database schema', _check_schema),
        ('Configured drivers', _check_drivers),
        ('Unauthenticated API', _check_noauth_exposure),
        ('Policy file JSON to YAML migration',
         (common_checks.check_policy_json, {'conf': CONF})),
    )


def main(argv=None):
    """Entry point of ``m2-status``."""
    default_config_files = [f for f in ('/etc/m2/m2.conf',) if os.path.exists(f)]
    return upgradecheck.main(CONF, project='m2', upgrade_command=Checks(),
                             argv=sys.argv[1:] if argv is None else argv,
                             default_config_files=default_config_files)


if __name__ == '__main__':
    sys.exit(main())
