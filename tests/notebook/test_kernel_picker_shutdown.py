"""A ``%backend`` picker shown and never used leaves its line when the kernel goes.

A notebook saves a widget's output as its model's id alone, which no kernel started
afterwards knows ("Error displaying widget: model not found"). So the kernel redraws a
live picker as its line before it answers a shutdown or a restart, while the frontend
still listens: in the Conjure kernel and in a plain IPython kernel that loaded the
extension. Checked on real kernels through jupyter_client, a widget manager connected.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

import pytest
from kernel_harness import RunningKernel
from widget_frontend import open_widget_manager

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PICKER_LINE = "backend: local · model: "


def shown_picker(kernel: RunningKernel) -> str:
    """Run ``%backend`` and return the display id of the picker it shows."""
    shown = kernel.run("%backend")
    assert shown.status == "ok", shown.error
    [display_id] = [
        message["content"]["transient"]["display_id"]
        for message in shown.messages
        if message["msg_type"] == "display_data" and WIDGET_VIEW in message["content"]["data"]
    ]
    return display_id


def until_shutdown_reply(kernel: RunningKernel) -> list[dict[str, Any]]:
    """The iopub messages up to the shutdown reply the kernel broadcasts there."""
    messages = []
    while True:
        try:
            message = kernel.client.get_iopub_msg(timeout=60)
        except queue.Empty:
            raise AssertionError(f"no shutdown_reply on iopub; got {messages}") from None
        messages.append(message)
        if message["msg_type"] == "shutdown_reply":
            return messages


def shut_down(kernel: RunningKernel) -> None:
    kernel.client.shutdown()


def restart(kernel: RunningKernel) -> None:
    kernel.manager.restart_kernel()


@pytest.mark.parametrize(
    ("kernel_name", "stop"),
    [("conjure", shut_down), ("conjure", restart), ("python3", shut_down)],
    ids=["conjure-shutdown", "conjure-restart", "load_ext-shutdown"],
)
def test_a_picker_left_unused_is_redrawn_as_its_line_before_the_kernel_goes(
    api, tmp_path, kernel_name: str, stop: Callable[[RunningKernel], None]
):
    env = {"ANTHROPIC_API_KEY": "sk-test-key-123", "ANTHROPIC_BASE_URL": api.url}
    with RunningKernel(kernel_name, cwd=tmp_path, env=env) as kernel:
        if kernel_name == "python3":
            assert kernel.run("%load_ext conjure_kernel").status == "ok"
        open_widget_manager(kernel.client)
        display_id = shown_picker(kernel)
        stop(kernel)
        messages = until_shutdown_reply(kernel)

    redrawn = [
        message["content"]["data"]
        for message in messages
        if message["msg_type"] == "update_display_data"
        and message["content"]["transient"]["display_id"] == display_id
    ]
    assert len(redrawn) == 1, [message["msg_type"] for message in messages]
    assert WIDGET_VIEW not in redrawn[0]
    assert PICKER_LINE in redrawn[0]["text/html"] and PICKER_LINE in redrawn[0]["text/plain"]
