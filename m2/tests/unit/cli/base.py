"""Base of the CLI tests: run ``m2`` in-process and capture what it prints."""

import io
import json
import os

import fixtures

from m2.cli import shell
from m2.tests import base
from m2.tests.unit.cli import apiserver

ENV_CLEARED = ('OS_AUTH_URL', 'OS_CLOUD', 'OS_AUTH_TYPE', 'OS_AUTH_PLUGIN', 'OS_USERNAME',
               'OS_PASSWORD', 'OS_PROJECT_NAME', 'OS_ENDPOINT', 'M2_SERVICE_TYPE')


class Result:
    def __init__(self, code, stdout, stderr):
        self.code, self.stdout, self.stderr = code, stdout, stderr

    def json(self):
        return json.loads(self.stdout)

    def __repr__(self):
        return 'Result(%r, stdout=%r, stderr=%r)' % (self.code, self.stdout, self.stderr)


class CLITestCase(base.TestCase):
    """``self.m2(...)`` runs the client; ``with_server`` adds a live API."""

    with_server = False

    def setUp(self):
        super().setUp()
        for name in ENV_CLEARED:
            self.useFixture(fixtures.EnvironmentVariable(name))
        self.useFixture(fixtures.EnvironmentVariable('M2_URL'))
        if self.with_server:
            self.api = self.useFixture(apiserver.APIServer(self.state_path))
            self.useFixture(fixtures.EnvironmentVariable('M2_URL', self.api.url))
            self.storage_dir = os.path.join(self.state_path, 'images')

    def m2(self, *argv):
        stdout, stderr = io.StringIO(), io.StringIO()
        code = shell.M2App(stdout=stdout, stderr=stderr).run(list(argv))
        return Result(code, stdout.getvalue(), stderr.getvalue())

    def ok(self, *argv):
        """Run ``m2 argv``, require success, return the result."""
        result = self.m2(*argv)
        self.assertEqual(0, result.code, result)
        return result

    def fails(self, *argv, line=None):
        """Run ``m2 argv``, require exit 1 with exactly one error line (no traceback)."""
        result = self.m2(*argv)
        self.assertEqual(1, result.code, result)
        self.assertNotIn('Traceback', result.stderr)
        lines = result.stderr.strip().splitlines()
        if line is not None:
            self.assertEqual(line, lines[-1], result)
        return result

    def source_image(self, name='src', size=2 * 1024 * 1024):
        """A storage image (a plain file) to import from."""
        os.makedirs(self.storage_dir, exist_ok=True)
        path = os.path.join(self.storage_dir, name)
        with open(path, 'wb') as f:
            f.write(os.urandom(size))
        return path
