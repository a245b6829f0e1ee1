"""JSON-schema validation of request bodies: 400s that name the field."""

from m2.api import validation as v
from m2.api.controllers.v1 import images, nodes, projects
from m2.common import exception
from m2.tests import base


class TestValidation(base.TestCase):
    def assertInvalid(self, body, schema, *fragments):
        exc = self.assertRaises(exception.Invalid, v.validate, body, schema)
        self.assertEqual(400, exc.code)
        for fragment in fragments:
            self.assertIn(fragment, str(exc))

    def test_valid_bodies_pass_unchanged(self):
        body = {'name': 'n1', 'image': 'img', 'nic': 'eno1', 'mac': '52:54:00:00:00:01'}
        self.assertIs(body, v.validate(body, nodes.PROVISION))
        self.assertEqual({'name': 'p'}, v.validate({'name': 'p'}, projects.CREATE))

    def test_errors_name_the_field(self):
        self.assertInvalid({'name': 'a/b', 'image': 'i', 'nic': 'e'}, nodes.PROVISION,
                           "'name'", 'not allowed')
        self.assertInvalid({'name': 'n', 'image': 'i', 'nic': 'e', 'mac': 'xx'},
                           nodes.PROVISION, "'mac'")
        self.assertInvalid({'name': 'n'}, nodes.PROVISION, 'image')
        self.assertInvalid({'name': 'n', 'extra': 1}, projects.CREATE, 'extra')
        self.assertInvalid({'storage_name': 5}, images.EXPORT, "'storage_name'")
        self.assertInvalid([], projects.CREATE, 'object')

    def test_control_characters_in_free_text_are_refused(self):
        self.assertInvalid({'name': 'p', 'provisioning_network': 'net\nx'}, projects.CREATE,
                           'provisioning_network')

    def test_trailing_newlines_are_refused(self):
        # Python's $ matches before a final newline; the patterns must not.
        self.assertInvalid({'name': 'p\n'}, projects.CREATE, "'name'")
        self.assertInvalid({'name': 'p', 'isolator_project': 'x\n'}, projects.CREATE,
                           'isolator_project')
        self.assertInvalid({'name': 'n', 'image': 'i', 'nic': 'e\n'}, nodes.PROVISION, "'nic'")
        self.assertInvalid({'name': 'n', 'image': 'i', 'nic': 'e',
                            'mac': '52:54:00:00:00:01\n'}, nodes.PROVISION, "'mac'")
