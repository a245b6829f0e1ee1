"""Validation of user-supplied names, MACs and paths, and command execution."""

from m2.common import exception, utils
from m2.tests import base


class TestValidation(base.TestCase):
    def test_good_names(self):
        for name in ('a', 'node-1', 'bmi_infra', 'img.v2', 'A' * 63):
            self.assertEqual(name, utils.validate_name(name))

    def test_bad_names(self):
        for name in ('', '.', '..', 'a..b', '../x', 'a/b', 'a\\b', '-x', '.x', 'a b', 'x\n',
                     'x\x00', 'é', 'A' * 64, None, 5):
            self.assertRaises(exception.InvalidName, utils.validate_name, name)

    def test_message_names_the_field(self):
        exc = self.assertRaises(exception.InvalidName, utils.validate_name, 'a/b', 'node name')
        self.assertIn('node name', str(exc))
        self.assertEqual(400, exc.code)

    def test_macs(self):
        self.assertEqual('52:54:00:ab:cd:ef', utils.normalize_mac('52-54-00-AB-CD-EF'))
        for bad in ('52:54:00:ab:cd', '52:54:00:ab:cd:eg', '525400abcdef', '', None,
                    '52:54:00:ab:cd:ef:00'):
            self.assertRaises(exception.InvalidMAC, utils.normalize_mac, bad)

    def test_iqns(self):
        utils.validate_iqn('iqn.2026-11.org.m2:m2.node1.x')
        for bad in ('iqn.2026.org:x', 'x', 'iqn.2026-11.org.m2:x y', 'iqn.2026-11.org.m2:a;b'):
            self.assertRaises(exception.InvalidName, utils.validate_iqn, bad)

    def test_safe_join(self):
        self.assertEqual(self.state_path + '/a/b', utils.safe_join(self.state_path, 'a', 'b'))
        for bad in ('../x', '/etc/passwd', 'a/../../x', '.'):
            self.assertRaises(exception.Invalid, utils.safe_join, self.state_path, bad)


class TestExecute(base.TestCase):
    def test_output_and_failure(self):
        out, _ = utils.execute('echo', 'hi; rm -rf /')
        self.assertEqual('hi; rm -rf /\n', out)
        exc = self.assertRaises(exception.CommandFailed, utils.execute, 'false')
        self.assertEqual(1, exc.exit_code)

    def test_missing_command_is_backend_unavailable(self):
        exc = self.assertRaises(exception.BackendUnavailable, utils.execute, 'no-such-cmd-m2')
        self.assertEqual(503, exc.code)
