"""A fake HIL (``m2.tests.fake_hil``) served on a free loopback port in a thread."""

import threading

import fixtures

from m2.tests import fake_hil


class FakeHILFixture(fixtures.Fixture):
    """Serve a ``FakeHIL`` on 127.0.0.1 for one test.

    ``self.app`` is the FakeHIL (seed it, inject faults, read ``calls`` and
    ``state()`` directly); ``self.url`` is what ``[hil] url`` should be.
    """

    def __init__(self, seed=None, **settings):
        super().__init__()
        self.seed = seed
        self.settings = settings

    def _setUp(self):
        self.app = fake_hil.FakeHIL(self.seed)
        if self.settings:
            self.app.configure(**self.settings)
        self.server = fake_hil.make_server(self.app, '127.0.0.1', 0)
        self.port = self.server.server_port
        self.url = 'http://127.0.0.1:%d' % self.port
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={'poll_interval': 0.05},
                                        name='fake-hil-%d' % self.port, daemon=True)
        self._thread.start()
        self.addCleanup(self._stop)

    def _stop(self):
        self.app.release()  # let stalled requests finish
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
