"""The one exception tree of m2.

Every error a user can cause or a backend can raise is a subclass of
``M2Exception`` carrying its HTTP status in ``code``; the API turns any of
them into a JSON error body in one place (``m2.api.hooks``). Drivers raise
the domain errors below, never their library's own.
"""


class M2Exception(Exception):
    """Base of every m2 error. ``msg_fmt`` is filled from the keyword args."""

    msg_fmt = 'An unknown error occurred.'
    code = 500

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                message = self.msg_fmt
        self.message = str(message)
        super().__init__(self.message)

    def __str__(self):
        return self.message


# 400
class Invalid(M2Exception):
    msg_fmt = 'Invalid input: %(reason)s'
    code = 400


class InvalidName(Invalid):
    msg_fmt = ('Invalid %(field)s %(value)r: %(reason)s')


class InvalidMAC(Invalid):
    msg_fmt = 'Invalid MAC address %(mac)r: expected six hex pairs like 52:54:00:12:34:56.'


class InvalidImageFormat(Invalid):
    msg_fmt = 'Invalid image data: %(reason)s'


# 403 (401s come from keystonemiddleware)

class Forbidden(M2Exception):
    msg_fmt = 'Not allowed: %(action)s.'
    code = 403


# 404
class NotFound(M2Exception):
    msg_fmt = 'Not found: %(what)s.'
    code = 404


class ProjectNotFound(NotFound):
    msg_fmt = 'Project %(project)s could not be found.'


class ImageNotFound(NotFound):
    msg_fmt = 'Image %(image)s could not be found.'


class NodeNotFound(NotFound):
    msg_fmt = 'Node %(node)s could not be found.'


class NicNotFound(NotFound):
    msg_fmt = 'Node %(node)s has no NIC labelled %(nic)s.'


class StorageImageNotFound(NotFound):
    msg_fmt = 'Storage image %(name)s does not exist.'


class StorageSnapshotNotFound(NotFound):
    msg_fmt = 'Storage image %(name)s has no snapshot %(snapshot)s.'



class NetworkNotFound(NotFound):
    msg_fmt = 'Network %(network)s could not be found.'


class LeaseNotFound(NotFound):
    msg_fmt = 'No DHCP lease for node %(node)s (MAC %(mac)s).'


# 405
class MethodNotAllowed(M2Exception):
    msg_fmt = 'Method not allowed; use %(allowed)s.'
    code = 405


# 409
class Conflict(M2Exception):
    msg_fmt = 'Conflict: %(reason)s'
    code = 409


class ProjectExists(Conflict):
    msg_fmt = 'A project named %(project)s already exists.'


class ProjectInUse(Conflict):
    msg_fmt = 'Project %(project)s still owns %(what)s.'


class ImageExists(Conflict):
    msg_fmt = 'Project %(project)s already has an image named %(image)s.'


class ImageInUse(Conflict):
    msg_fmt = 'Image %(image)s is in use by %(users)s.'


class ImageNotReady(Conflict):
    msg_fmt = 'Image %(image)s is %(status)s, not active.'


class NodeExists(Conflict):
    msg_fmt = 'Node %(node)s is already provisioned (state %(state)s).'


class NodeInWrongState(Conflict):
    msg_fmt = 'Node %(node)s is %(state)s; cannot %(action)s.'


class ResourceLocked(Conflict):
    msg_fmt = ('%(kind)s %(name)s is busy with another operation (%(task)s); '
               'try again when it finishes.')


class RollbackPending(Conflict):
    msg_fmt = ('%(kind)s %(name)s has an unfinished rollback of %(task)s; the conductor '
               'retries it periodically (or run the audit with fix).')


class StorageImageExists(Conflict):
    msg_fmt = 'Storage image %(name)s already exists.'



class StorageImageBusy(Conflict):
    msg_fmt = 'Storage image %(name)s is busy: %(reason)s'


class StorageHasSnapshots(Conflict):
    msg_fmt = 'Storage image %(name)s still has snapshots.'


class StorageHasChildren(Conflict):
    msg_fmt = 'Snapshot %(name)s@%(snapshot)s still has clones: %(children)s.'


class SnapshotProtected(Conflict):
    msg_fmt = 'Snapshot %(name)s@%(snapshot)s is protected.'


class SnapshotNotProtected(Conflict):
    msg_fmt = 'Snapshot %(name)s@%(snapshot)s is not protected, so it cannot be cloned.'


class TargetExists(Conflict):
    msg_fmt = 'iSCSI target %(iqn)s already exists with another backing store.'


class IsolatorConflict(Conflict):
    msg_fmt = 'The network isolator refused: %(reason)s'


# 413
class RequestTooLarge(M2Exception):
    msg_fmt = 'Request body too large: %(reason)s'
    code = 413


# 500-class raised by backends
class BackendError(M2Exception):
    msg_fmt = '%(backend)s failed: %(reason)s'
    code = 500


class CommandFailed(BackendError):
    msg_fmt = 'Command %(cmd)s failed with exit code %(exit_code)s: %(stderr)s'

    def __init__(self, message=None, **kwargs):
        self.exit_code = kwargs.get('exit_code')
        self.stdout = kwargs.get('stdout', '')
        self.stderr = kwargs.get('stderr', '')
        kwargs.setdefault('backend', 'command')
        super().__init__(message, **kwargs)


class BackendUnavailable(M2Exception):
    msg_fmt = '%(backend)s is unreachable: %(reason)s'
    code = 503


class DriverNotFound(M2Exception):
    msg_fmt = ('No %(kind)s driver named %(name)r in namespace %(namespace)s; '
               'installed: %(choices)s.')


class DriverLoadError(M2Exception):
    msg_fmt = 'The %(kind)s driver %(name)r could not be loaded: %(reason)s'


class InjectedFault(BackendError):
    """Raised by the fault-injecting test drivers."""

    msg_fmt = 'Injected fault at %(step)s'
