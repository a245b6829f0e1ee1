"""m2-conductor: runs operations for m2-api processes over oslo.messaging."""

import logging
import sys

from m2.cmd import common
from m2.common import rpc
from m2.conf import CONF

LOG = logging.getLogger(__name__)

#: Logged once the RPC server consumes its queue; until then a call from
#: m2-api has no queue to land in (tests and operators wait for this line).
READY_MESSAGE = 'm2-conductor %s consuming RPC topic %s'


def main(argv=None):
    manager = common.start_conductor(sys.argv[1:] if argv is None else argv)
    server = rpc.get_server(manager)
    server.start()
    LOG.info(READY_MESSAGE, CONF.host, CONF.conductor.topic)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        manager.stop(wait=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
