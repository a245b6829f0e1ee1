"""Rows as the plain dicts the conductor returns and the API serves.

Plain dicts so that they cross oslo.messaging unchanged. Secrets (CHAP) are
never included.
"""


def _time(value):
    return value.isoformat() + 'Z' if value else None


def _progress(row):
    data = row.task_data or {}
    steps = data.get('steps') or []
    done = row.task_steps or []
    if not row.task:
        return None
    progress = {'task': row.task, 'steps_done': len(done), 'steps_total': len(steps),
                'current_step': next((s for s in steps if s not in done), None)}
    if 'bytes_done' in data:
        progress['bytes_done'] = data['bytes_done']
    return progress


def project(row):
    return {'id': row.id, 'name': row.name,
            'keystone_project_id': row.keystone_project_id,
            'isolator_project': row.isolator_project,
            'provisioning_network': row.provisioning_network,
            'created_at': _time(row.created_at), 'updated_at': _time(row.updated_at)}


def image(row, parent_uuid=None):
    return {'id': row.uuid, 'name': row.name, 'project': row.project.name,
            'kind': row.kind, 'public': bool(row.public), 'parent': parent_uuid,
            'source': row.source, 'storage_name': row.storage_name, 'size': row.size,
            'status': row.status, 'last_error': row.last_error,
            'progress': _progress(row),
            'created_at': _time(row.created_at), 'updated_at': _time(row.updated_at)}


def node(row):
    target = None
    if row.target_iqn:
        target = {'iqn': row.target_iqn, 'portals': list(row.target_portals or []),
                  'lun': row.target_lun}
    return {'id': row.uuid, 'name': row.name, 'project': row.project.name,
            'image': row.image.uuid if row.image else None,
            'image_name': row.image.name if row.image else None,
            'nic': row.nic_label, 'mac': row.mac,
            'provision_state': row.provision_state, 'last_error': row.last_error,
            'progress': _progress(row), 'disk': row.disk_name,
            'initiator_iqn': row.initiator_iqn, 'target': target,
            'chap': bool(row.chap_username),
            'created_at': _time(row.created_at), 'updated_at': _time(row.updated_at)}


def conductor(row, alive):
    """``alive``: online and heartbeating within [conductor] heartbeat_timeout."""
    return {'hostname': row.hostname, 'alive': alive, 'online': row.online,
            'heartbeat_at': _time(row.heartbeat_at), 'created_at': _time(row.created_at)}
