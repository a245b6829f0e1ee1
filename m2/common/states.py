"""Image statuses and node provision states, stable and transitional."""

# Images (an export runs as a task on an image that stays active)
QUEUED = 'queued'            # created, waiting for an upload
IMPORTING = 'importing'
UPLOADING = 'uploading'
SNAPSHOTTING = 'snapshotting'
COPYING = 'copying'
DELETING = 'deleting'
ACTIVE = 'active'
ERROR = 'error'

IMAGE_TRANSITIONAL = frozenset([IMPORTING, UPLOADING, SNAPSHOTTING, COPYING, DELETING])

# Nodes
PROVISIONING = 'provisioning'
DEPROVISIONING = 'deprovisioning'
# SNAPSHOTTING is shared with images
# ACTIVE: provisioned
# ERROR: provisioning failed and was rolled back; deprovision removes the row
DEPROVISION_FAILED = 'deprovision_failed'

NODE_TRANSITIONAL = frozenset([PROVISIONING, DEPROVISIONING, SNAPSHOTTING])

GOLDEN = 'golden'
SNAPSHOT = 'snapshot'
