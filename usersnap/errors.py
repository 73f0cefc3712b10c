"""The error tree.  Every error a user can see is a :class:`UsersnapError`.

    UsersnapError                      message is the one line printed after "error: "
    ├── SnapFileError                  not a SquashFS image, corrupt, truncated, unreadable
    ├── SnapYamlError                  meta/snap.yaml missing, unparsable or invalid (snapd wording)
    ├── ContainerError                 snap files missing or with bad permissions
    ├── NotInstalledError              snap (or revision) is not installed
    ├── AlreadyInstalledError
    ├── ChangeConflictError            another change is in progress for the snap
    ├── NotFoundError                  an app, a change, an endpoint does not exist
    ├── SandboxError                   bubblewrap/user namespaces unusable or launch failed
    ├── MountError                     the FUSE mount cannot be set up
    └── DaemonError                    usersnapd unreachable or answered badly

``kind`` is the snapd REST error kind the daemon sends (``client/errors.go``) and
``status`` its HTTP status; the client maps both back to the same classes, so an error
raised in the daemon prints the same way as one raised in the CLI.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # every launch imports this module: no typing at run time
    from typing import ClassVar


class UsersnapError(Exception):
    """Base of every user-facing error; ``str()`` is the one-line message."""

    kind: ClassVar[str] = ""
    status: ClassVar[int] = 400

    def __init__(self, message: str, *, value: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.value = value

    def __str__(self) -> str:
        return self.message


class SnapFileError(UsersnapError):
    """The file is not a usable snap (SquashFS) image."""

    kind = "snap-not-a-snap"


class SnapYamlError(UsersnapError):
    """meta/snap.yaml is missing, unparsable or fails snapd's validation."""


class ContainerError(UsersnapError):
    """Files the snap.yaml names are missing or have bad permissions."""


class NotInstalledError(UsersnapError):
    kind = "snap-not-installed"
    status = 404


class SnapNotFoundError(NotInstalledError):
    """A snap name the daemon knows nothing about (snapd's ``snap-not-found``)."""

    kind = "snap-not-found"


class AlreadyInstalledError(UsersnapError):
    kind = "snap-already-installed"


class NoUpdateAvailableError(UsersnapError):
    """snapd's ``snap-no-update-available``: ``snap refresh NAME`` says it, not failing."""

    kind = "snap-no-update-available"


class ChangeConflictError(UsersnapError):
    kind = "snap-change-conflict"
    status = 409


class NotFoundError(UsersnapError):
    status = 404


class AppNotFoundError(NotFoundError):
    kind = "app-not-found"


#: ends the message of an error caused by what this machine lacks (bubblewrap, user
#: namespaces, a daemon that can start), which ``usersnap doctor`` diagnoses
SEE_DOCTOR = "; see usersnap doctor"


class SandboxError(UsersnapError):
    """The sandbox cannot be built or the app cannot be started."""


class MountError(UsersnapError):
    """The FUSE filesystem cannot be mounted or has gone stale."""


class DaemonError(UsersnapError):
    """usersnapd cannot be reached or gave an answer we do not understand."""

    status = 500


class InterfacesUnchanged(UsersnapError):
    """Nothing to disconnect: ``snap disconnect`` says so and exits 0."""

    kind = "interfaces-unchanged"


ERROR_KINDS: dict[str, type[UsersnapError]] = {
    cls.kind: cls
    for cls in (
        SnapFileError,
        NotInstalledError,
        SnapNotFoundError,
        AlreadyInstalledError,
        NoUpdateAvailableError,
        ChangeConflictError,
        AppNotFoundError,
        InterfacesUnchanged,
    )
}
