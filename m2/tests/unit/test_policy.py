"""The policy defaults: which role may attempt which action.

Scoping (which project's resources a caller reaches) is the conductor's and
is tested against a real Keystone in m2/tests/functional/test_keystone.py.
"""

import os
import subprocess
import sys

from m2.common import context, exception, policy
from m2.tests import base

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

ADMIN_ONLY = ('m2:project:list', 'm2:project:get', 'm2:project:create', 'm2:project:delete',
              'm2:image:all_projects', 'm2:node:all_projects', 'm2:target:list',
              'm2:conductor:list', 'm2:audit')
WRITES = ('m2:image:create', 'm2:image:update', 'm2:image:delete', 'm2:node:provision',
          'm2:node:deprovision', 'm2:node:snapshot')
READS = ('m2:image:get', 'm2:image:download', 'm2:node:get')


def _ctx(*roles):
    return context.RequestContext(project_id='p', user_id='u', roles=list(roles),
                                  is_admin='admin' in roles)


class PolicyTest(base.TestCase):

    def setUp(self):
        super().setUp()
        policy.reset()
        self.addCleanup(policy.reset)
        # The enforcer registers [oslo_policy]; the tests override it.
        policy.get_enforcer()
        policy.reset()

    def allowed(self, rule, ctx):
        try:
            policy.authorize(rule, ctx)
            return True
        except exception.Forbidden:
            return False

    def test_every_m2_rule_is_classified(self):
        names = {r.name for r in policy.list_rules() if r.name.startswith('m2:')}
        self.assertEqual(set(ADMIN_ONLY + WRITES + READS), names)

    def test_admin_may_do_everything(self):
        # Not only through is_admin: the rules themselves accept the role.
        ctx = _ctx('admin')
        ctx.is_admin = False
        for rule in ADMIN_ONLY + WRITES + READS:
            self.assertTrue(self.allowed(rule, ctx), rule)

    def test_member_reads_and_writes_but_does_not_administer(self):
        ctx = _ctx('member', 'reader')
        for rule in WRITES + READS:
            self.assertTrue(self.allowed(rule, ctx), rule)
        for rule in ADMIN_ONLY:
            self.assertFalse(self.allowed(rule, ctx), rule)

    def test_reader_only_reads(self):
        ctx = _ctx('reader')
        for rule in READS:
            self.assertTrue(self.allowed(rule, ctx), rule)
        for rule in WRITES + ADMIN_ONLY:
            self.assertFalse(self.allowed(rule, ctx), rule)

    def test_no_role_gets_nothing(self):
        ctx = _ctx('other')
        for rule in READS + WRITES + ADMIN_ONLY:
            self.assertFalse(self.allowed(rule, ctx), rule)

    def test_noauth_admin_context_passes(self):
        self.assertTrue(self.allowed('m2:audit', context.get_admin_context()))

    def test_unknown_rule_is_an_error_not_a_pass(self):
        from oslo_policy import policy as oslo_policy
        self.assertRaises(oslo_policy.PolicyNotRegistered, policy.authorize,
                          'm2:no:such', _ctx('member'))

    def test_policy_file_overrides_a_default(self):
        path = os.path.join(self.state_path, 'policy.yaml')
        with open(path, 'w') as f:
            f.write('"m2:target:list": "role:reader"\n')
        self.config(policy_file=path, group='oslo_policy')
        self.assertTrue(self.allowed('m2:target:list', _ctx('reader')))
        self.assertFalse(self.allowed('m2:audit', _ctx('reader')))

    def test_sample_file_is_up_to_date(self):
        out = os.path.join(self.state_path, 'policy.yaml.sample')
        generator = os.path.join(os.path.dirname(sys.executable),
                                 'oslopolicy-sample-generator')
        subprocess.run([generator, '--namespace', 'm2', '--output-file', out], check=True,
                       capture_output=True)
        with open(out) as f:
            generated = f.read()
        with open(os.path.join(REPO, 'etc', 'm2', 'policy.yaml.sample')) as f:
            committed = f.read()
        self.assertEqual(generated, committed,
                         'regenerate: oslopolicy-sample-generator --namespace m2 '
                         '--output-file etc/m2/policy.yaml.sample')

    def test_is_admin_follows_the_admin_api_rule(self):
        self.assertTrue(policy.check_is_admin(_ctx('admin')))
        self.assertFalse(policy.check_is_admin(_ctx('member', 'reader')))
        path = os.path.join(self.state_path, 'policy.yaml')
        with open(path, 'w') as f:
            f.write('"admin_api": "role:cloud-operator"\n')
        self.config(policy_file=path, group='oslo_policy')
        policy.reset()  # the enforcer read its policy file when first used
        self.assertFalse(policy.check_is_admin(_ctx('admin')))
        self.assertTrue(policy.check_is_admin(_ctx('cloud-operator')))
