"""Tell a frontend which backend and model the session uses, over the ``conjure.status`` comm.

The kernel only registers the comm target; a frontend that wants the status (the
JupyterLab extension's status-bar item) opens a comm to it and gets ``{"backend",
"model"}`` at once and again after every change. Runners that open no comm (nbclient,
papermill, ``jupyter console``) therefore see no extra messages at all. The comm is
the kernel's own messaging, so the status follows the kernel through restarts and
needs no server extension.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .magics import ConjureMagics

__all__ = ["STATUS_TARGET", "StatusChannel", "notify_status_changed", "session_status"]

STATUS_TARGET = "conjure.status"

_channels: dict[int, StatusChannel] = {}


def session_status(magics: ConjureMagics) -> dict[str, str]:
    """The backend and model the next turn uses, without starting a session to find out."""
    session = magics._session
    if session is None:
        return {"backend": magics.default_backend, "model": magics.model}
    return {"backend": session.backend_name, "model": session.model}


class StatusChannel:
    """The open ``conjure.status`` comms of one shell, and the status they last received."""

    def __init__(self, magics: ConjureMagics) -> None:
        self.magics = magics
        self._comms: dict[str, Any] = {}
        self._sent: dict[str, str] | None = None

    @classmethod
    def attach(cls, shell: Any) -> StatusChannel:
        """Register the comm target for ``shell``'s Conjure magics and watch their settings."""
        import comm

        channel = cls(shell.magics_manager.registry["ConjureMagics"])
        comm.get_comm_manager().register_target(STATUS_TARGET, channel._open)
        # %model and %config set these traits; the magics' own observer updates the
        # session first, as it was registered first.
        channel.magics.observe(
            lambda _change: channel.publish(), names=["model", "default_backend"]
        )
        _channels[id(shell)] = channel
        return channel

    def publish(self) -> None:
        """Send the status to every open comm, if it changed since the last send."""
        status = session_status(self.magics)
        if status == self._sent or not self._comms:
            return
        self._sent = status
        for channel_comm in list(self._comms.values()):
            channel_comm.send(status)

    def _open(self, channel_comm: Any, _message: dict[str, Any]) -> None:
        """A frontend opened a comm: answer with the current status at once."""
        self.publish()  # the comms already open first, should they have missed a change
        self._comms[channel_comm.comm_id] = channel_comm
        channel_comm.on_close(lambda _msg: self._comms.pop(channel_comm.comm_id, None))
        self._sent = session_status(self.magics)
        channel_comm.send(self._sent)


def notify_status_changed(shell: Any) -> None:
    """Push the status to the frontends after a change the traits do not see (a new backend)."""
    channel = _channels.get(id(shell))
    if channel is not None:
        channel.publish()
