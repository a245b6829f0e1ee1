"""Request context: who is calling, carried from the API to the conductor."""

from oslo_context import context


class RequestContext(context.RequestContext):
    """oslo.context's context; ``project_id`` is the caller's Keystone project.

    In ``noauth`` mode every request is an admin with no project.
    """

    def to_policy_values(self):
        values = super().to_policy_values()
        values['is_admin'] = self.is_admin
        return values


def get_admin_context():
    return RequestContext(is_admin=True, roles=['admin'], overwrite=False)


def from_dict(values):
    return RequestContext.from_dict(values)
