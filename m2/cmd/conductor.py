"""m2-conductor: runs operations for m2-api processes over oslo.messaging."""

import sys

from m2.cmd import common
from m2.common import rpc


def main(argv=None):
    common.prepare_service(sys.argv[1:] if argv is None else argv)
    common.check_schema()
    manager = common.load_manager()
    manager.start()
    manager.start_periodic_tasks()
    server = rpc.get_server(manager)
    server.start()
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
