"""Driver loading: configured choice, clear errors naming the choices."""

from m2.common import exception
from m2.drivers import base as driver_base
from m2.drivers import factory
from m2.tests import base


class TestFactory(base.TestCase):
    def test_loads_the_configured_drivers(self):
        drivers = factory.load_all()
        self.assertIsInstance(drivers['storage'], driver_base.StorageDriver)
        self.assertIsInstance(drivers['iscsi'], driver_base.ISCSIDriver)
        self.assertIsInstance(drivers['isolator'], driver_base.IsolatorDriver)
        self.assertIsInstance(drivers['boot'], driver_base.BootDriver)
        self.assertIs(drivers['storage'], factory.get('storage'))

    def test_unknown_driver_names_namespace_and_choices(self):
        self.config(group='drivers', storage='nosuch')
        exc = self.assertRaises(exception.DriverNotFound, factory.get, 'storage')
        self.assertIn('m2.drivers.storage', str(exc))
        self.assertIn('file', str(exc))
        self.assertIn('ceph', str(exc))

    def test_every_registered_driver_implements_its_interface(self):
        interfaces = {'storage': driver_base.StorageDriver, 'iscsi': driver_base.ISCSIDriver,
                      'isolator': driver_base.IsolatorDriver, 'boot': driver_base.BootDriver}
        from importlib import metadata
        for kind, interface in interfaces.items():
            for ep in metadata.entry_points(group='m2.drivers.%s' % kind):
                if ep.name == 'faulty':
                    continue
                try:
                    cls = ep.load()
                except ImportError as exc:
                    # Only the Ceph bindings may be missing (Debian packages).
                    self.assertIn('rados', str(exc) + str(getattr(exc, 'name', '')))
                    continue
                self.assertTrue(issubclass(cls, interface), ep)
