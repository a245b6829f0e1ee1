"""Every option group, for oslo-config-generator (tox -e genconfig)."""

from m2 import conf


def list_opts():
    """Return [(group name, [opts])] for every m2 option."""
    result = [('DEFAULT', conf.default.opts)]
    result += [(module.group.name, module.opts) for module in conf.MODULES
               if hasattr(module, 'group')]
    result += conf.database.list_opts()
    return result
