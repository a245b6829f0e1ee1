"""Policy: who may do what, with oslo.policy defaults in code.

Three Keystone roles matter, each held on a Keystone project:

* ``admin`` — an operator: every rule passes, and the conductor lets an
  admin reach every project (``all_projects`` listings, projects, iSCSI
  targets, conductors, the audit);
* ``member`` — may read and change the images and nodes of its own project;
* ``reader`` — may only read them.

The rules below decide *whether* a caller may attempt an action; *which*
resources it reaches is the conductor's scoping (``ConductorManager.
_visible_project_ids``): a Keystone project reaches only the M2 projects whose
``keystone_project_id`` is its id, other projects' resources answer 404, and
public images are readable by everyone but changeable only by their owner or
an admin (403).

``authorize(rule, context, target)`` raises ``Forbidden``. In ``noauth`` mode
the context is an admin, so every rule passes. Generate the sample file with
``oslopolicy-sample-generator --namespace m2 --output-file
etc/m2/policy.yaml.sample``; override rules in ``[oslo_policy] policy_file``.
"""

from oslo_policy import policy

from m2.common import exception
from m2.conf import CONF

_ENFORCER = None

ADMIN = 'role:admin'
MEMBER = 'role:admin or role:member'
READER = 'role:admin or role:member or role:reader'

base_rules = [
    policy.RuleDefault('admin_api', ADMIN,
                       description='Operators: the admin role on any project.'),
    policy.RuleDefault('project_member', MEMBER,
                       description='May change the resources of its own project.'),
    policy.RuleDefault('project_reader', READER,
                       description='May read the resources of its own project.'),
]


def _rule(name, check_str, description, operations):
    return policy.DocumentedRuleDefault(
        name=name, check_str=check_str, description=description,
        operations=[{'method': method, 'path': path} for method, path in operations])


project_rules = [
    _rule('m2:project:list', 'rule:admin_api', 'List M2 projects.',
          [('GET', '/v1/projects')]),
    _rule('m2:project:get', 'rule:admin_api', 'Show an M2 project.',
          [('GET', '/v1/projects/{project}')]),
    _rule('m2:project:create', 'rule:admin_api',
          'Create an M2 project (and map it to a Keystone project).',
          [('POST', '/v1/projects')]),
    _rule('m2:project:delete', 'rule:admin_api', 'Delete an M2 project.',
          [('DELETE', '/v1/projects/{project}')]),
]

image_rules = [
    _rule('m2:image:get', 'rule:project_reader',
          'List and show the images of the caller\'s project and public images.',
          [('GET', '/v1/images'), ('GET', '/v1/images/{image}')]),
    _rule('m2:image:all_projects', 'rule:admin_api',
          'List the images of every project (all_projects=true).',
          [('GET', '/v1/images?all_projects=true')]),
    _rule('m2:image:create', 'rule:project_member',
          'Import, create, upload or copy an image into the caller\'s project.',
          [('POST', '/v1/images'), ('PUT', '/v1/images/{image}/file'),
           ('POST', '/v1/images/{image}/copy')]),
    _rule('m2:image:download', 'rule:project_reader',
          'Download the data of a readable image.',
          [('GET', '/v1/images/{image}/file')]),
    _rule('m2:image:update', 'rule:project_member',
          'Export or move an image the caller\'s project owns.',
          [('POST', '/v1/images/{image}/export'), ('POST', '/v1/images/{image}/move')]),
    _rule('m2:image:delete', 'rule:project_member',
          'Delete an image the caller\'s project owns.',
          [('DELETE', '/v1/images/{image}')]),
]

node_rules = [
    _rule('m2:node:get', 'rule:project_reader',
          'List and show the nodes of the caller\'s project, and their IP.',
          [('GET', '/v1/nodes'), ('GET', '/v1/nodes/{node}'),
           ('GET', '/v1/nodes/{node}/ip')]),
    _rule('m2:node:all_projects', 'rule:admin_api',
          'List the nodes of every project (all_projects=true).',
          [('GET', '/v1/nodes?all_projects=true')]),
    _rule('m2:node:provision', 'rule:project_member',
          'Provision a node in the caller\'s project.',
          [('POST', '/v1/nodes')]),
    _rule('m2:node:deprovision', 'rule:project_member',
          'Deprovision a node of the caller\'s project.',
          [('DELETE', '/v1/nodes/{node}')]),
    _rule('m2:node:snapshot', 'rule:project_member',
          'Snapshot a node of the caller\'s project into a new image.',
          [('POST', '/v1/nodes/{node}/snapshot')]),
]

admin_rules = [
    _rule('m2:target:list', 'rule:admin_api',
          'List the iSCSI targets of the gateway.',
          [('GET', '/v1/targets')]),
    _rule('m2:conductor:list', 'rule:admin_api',
          'List the conductors, their heartbeats and whether they are alive.',
          [('GET', '/v1/conductors')]),
    _rule('m2:audit', 'rule:admin_api',
          'Compare the database with the backends, and repair (fix=true).',
          [('GET', '/v1/audit'), ('POST', '/v1/audit')]),
]

rules = base_rules + project_rules + image_rules + node_rules + admin_rules


def list_rules():
    """Every default rule (the ``oslo.policy.policies`` entry point)."""
    return rules


def get_enforcer():
    """The process-wide enforcer, with the defaults registered."""
    global _ENFORCER
    if _ENFORCER is None:
        _ENFORCER = policy.Enforcer(CONF)
        _ENFORCER.register_defaults(rules)
    return _ENFORCER


def reset():
    global _ENFORCER
    _ENFORCER = None


def check_is_admin(context):
    """True if ``context``'s roles pass ``admin_api`` (an operator).

    The API sets ``context.is_admin`` from this, so redefining ``admin_api``
    in a policy file also redefines who reaches every project.
    """
    creds = context.to_policy_values()
    creds['is_admin'] = False
    return get_enforcer().authorize('admin_api', {}, creds)


def authorize(rule, context, target=None):
    """Raise Forbidden unless ``context`` may do ``rule``."""
    if context.is_admin:
        return
    enforcer = get_enforcer()
    target = target or {'project_id': context.project_id}
    if not enforcer.authorize(rule, target, context.to_policy_values()):
        raise exception.Forbidden(action=rule)
