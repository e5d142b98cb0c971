"""A widget manager on the client side of a real kernel, as JupyterLab's is, without a browser.

JupyterLab announces its widget manager by opening a comm to ``jupyter.widget.control``
(``conjure_kernel.notebook.frontends``): the kernel then draws chat turns as the widget
trace. Each widget the kernel makes arrives as an iopub ``comm_open`` holding the model's
state, and each change as a ``comm_msg`` ``update``; a person's actions go back on the
shell channel as the frontend sends them (ipywidgets' protocol 2.1): a click is a
``custom`` message ``{"event": "click"}``, typing is an ``update`` of the ``value``.
JupyterLab 4.4 and later address those to a subshell when the kernel has subshells
(``subshell_id``), so a test can send them either way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.blocking.client import BlockingKernelClient

__all__ = [
    "WidgetModels",
    "click",
    "create_subshell",
    "message_bytes",
    "open_widget_manager",
    "type_into",
]

CONTROL_TARGET = "jupyter.widget.control"
CONTROL_PROTOCOL = "1.0.0"
"""ipywidgets 8 refuses a control comm of any other version."""


def open_widget_manager(client: BlockingKernelClient) -> None:
    """Open the control comm, as a widget manager does when it connects to the kernel."""
    content = {"comm_id": uuid.uuid4().hex, "target_name": CONTROL_TARGET, "data": {}}
    client.shell_channel.send(
        client.session.msg("comm_open", content, metadata={"version": CONTROL_PROTOCOL})
    )


def message_bytes(client: BlockingKernelClient, message: dict[str, Any]) -> int:
    """The bytes of ``message`` as the kernel sent it (every frame: signature, header,
    parent header, metadata, content)."""
    return len(b"".join(client.session.serialize(message)))


@dataclass
class WidgetModels:
    """The widget models a kernel opened and their latest state, read from iopub."""

    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    closed: set[str] = field(default_factory=set)

    def follow(self, message: dict[str, Any]) -> None:
        """Take one iopub message: a model opened, updated or closed."""
        content = message["content"]
        if message["msg_type"] == "comm_open" and content.get("target_name") == "jupyter.widget":
            self.states[content["comm_id"]] = dict(content["data"]["state"])
        elif message["msg_type"] == "comm_msg" and content["comm_id"] in self.states:
            data = content["data"]
            if data.get("method") in ("update", "echo_update"):
                self.states[content["comm_id"]].update(data["state"])
        elif message["msg_type"] == "comm_close":
            self.closed.add(content["comm_id"])

    def open_ones(self, model: str, **traits: Any) -> list[str]:
        """The ids of the open models named ``model`` (``ButtonModel``…) with ``traits``."""
        return [
            comm_id
            for comm_id, state in self.states.items()
            if comm_id not in self.closed
            and state.get("_model_name") == model
            and all(state.get(name) == value for name, value in traits.items())
        ]

    def shown_in(self, comm_id: str, css_class: str) -> bool:
        """Whether the model is drawn inside an open box with ``css_class``: a widget is
        made (and its model opened) before it is put in place, and only then seen."""
        while True:
            parent = next(
                (
                    other
                    for other, state in self.states.items()
                    if other not in self.closed
                    and f"IPY_MODEL_{comm_id}" in state.get("children", ())
                ),
                None,
            )
            if parent is None:
                return False
            if css_class in self.states[parent].get("_dom_classes", ()):
                return True
            comm_id = parent


def click(client: BlockingKernelClient, comm_id: str, *, subshell_id: str | None = None) -> None:
    """Click the button whose model is ``comm_id``."""
    _send(client, comm_id, {"method": "custom", "content": {"event": "click"}}, subshell_id)


def type_into(
    client: BlockingKernelClient, comm_id: str, text: str, *, subshell_id: str | None = None
) -> None:
    """Set a text box's value, as typing into it does."""
    data = {"method": "update", "state": {"value": text}, "buffer_paths": []}
    _send(client, comm_id, data, subshell_id)


def create_subshell(client: BlockingKernelClient) -> str:
    """A subshell of the kernel, made as JupyterLab makes one for its comms."""
    client.control_channel.send(client.session.msg("create_subshell_request", {}))
    reply = client.control_channel.get_msg(timeout=30)
    assert reply["content"]["status"] == "ok", reply["content"]
    return reply["content"]["subshell_id"]


def _send(
    client: BlockingKernelClient, comm_id: str, data: dict[str, Any], subshell_id: str | None
) -> None:
    message = client.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
    message["header"]["subshell_id"] = subshell_id
    client.shell_channel.send(message)
