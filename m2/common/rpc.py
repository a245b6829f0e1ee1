"""oslo.messaging plumbing for the scale-out shape (m2-api ↔ m2-conductor)."""

import oslo_messaging as messaging

from m2.common import context as m2_context
from m2.conf import CONF

ALLOWED_EXMODS = ['m2.common.exception']


class ContextSerializer(messaging.NoOpSerializer):
    """Carry the request context across as a dict."""

    def serialize_context(self, context):
        return context.to_dict()

    def deserialize_context(self, context):
        return m2_context.from_dict(context)


def _transport():
    return messaging.get_rpc_transport(CONF, allowed_remote_exmods=ALLOWED_EXMODS)


def get_client(version):
    target = messaging.Target(topic=CONF.conductor.topic, version=version)
    return messaging.get_rpc_client(_transport(), target, serializer=ContextSerializer())


def get_server(manager):
    target = messaging.Target(topic=CONF.conductor.topic, server=CONF.host, version='1.0')
    return messaging.get_rpc_server(_transport(), target, [manager],
                                    executor='threading', serializer=ContextSerializer())
