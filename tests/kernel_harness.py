"""Drive a real kernel through jupyter_client and collect what a cell produced."""

from __future__ import annotations

import os
import queue
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager

from conjure_kernel.conversation.transcript import TurnRecord

TURN_MIME = "application/vnd.conjure.turn.v1+json"


@dataclass
class CellResult:
    """The reply and the iopub messages of one execute_request."""

    reply: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.reply["content"]["status"]

    @property
    def error(self) -> str:
        content = self.reply["content"]
        return f"{content.get('ename')}: {content.get('evalue')}" if self.status == "error" else ""

    def bundles(self) -> list[dict[str, Any]]:
        """Every display/update/execute_result data bundle, in order."""
        kinds = ("display_data", "update_display_data", "execute_result")
        return [m["content"]["data"] for m in self.messages if m["msg_type"] in kinds]

    def turn(self) -> dict[str, Any]:
        """The saved turn record (the last bundle carrying the conjure MIME type)."""
        turns = [b[TURN_MIME] for b in self.bundles() if TURN_MIME in b]
        assert turns, f"no turn record in the output; error={self.error!r}; text={self.text()!r}"
        return turns[-1]

    def record(self) -> TurnRecord:
        """The saved turn read back as conjure-kernel reads it (answer, tool calls…)."""
        return TurnRecord.from_json(self.turn())

    def text(self) -> str:
        parts = []
        for message in self.messages:
            content = message["content"]
            if message["msg_type"] == "stream":
                parts.append(content["text"])
            elif message["msg_type"] == "error":
                parts.append("\n".join(content["traceback"]))
            elif "data" in content:
                parts.append(content["data"].get("text/plain", ""))
        return "".join(parts)


class RunningKernel:
    """A kernel process with a blocking client; use as a context manager."""

    def __init__(self, kernel_name: str, *, cwd: Path, env: dict[str, str]) -> None:
        self.manager = KernelManager(kernel_name=kernel_name)
        environment = {**os.environ, **env}
        for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
            if name not in env:
                environment.pop(name, None)
        self.manager.start_kernel(cwd=str(cwd), env=environment)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code: str, *, timeout: float = 120) -> CellResult:
        messages: list[dict[str, Any]] = []
        reply = self.client.execute_interactive(
            code, timeout=timeout, output_hook=messages.append, allow_stdin=False
        )
        return CellResult(reply, messages)

    def run_answering(
        self, code: str, answers: list[str], *, timeout: float = 120
    ) -> tuple[CellResult, list[str]]:
        """Run a cell with stdin allowed, as JupyterLab does: each input request gets the
        next of ``answers``; returns the result and the prompts asked, in order."""
        messages: list[dict[str, Any]] = []
        prompts: list[str] = []
        pending = list(answers)

        def answer(request: dict[str, Any]) -> None:
            prompts.append(request["content"]["prompt"])
            assert pending, f"an unexpected question: {prompts[-1]!r}"
            self.client.input(pending.pop(0))

        reply = self.client.execute_interactive(
            code,
            timeout=timeout,
            output_hook=messages.append,
            allow_stdin=True,
            stdin_hook=answer,
        )
        return CellResult(reply, messages), prompts

    def start(self, code: str) -> str:
        """Send a cell without waiting; returns the msg_id."""
        return self.client.execute(code)

    def wait_for(self, msg_id: str, *, timeout: float) -> CellResult:
        messages: list[dict[str, Any]] = []
        while True:
            try:
                message = self.client.get_iopub_msg(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"no idle status within {timeout} s") from None
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                break
            messages.append(message)
        while (reply := self.client.get_shell_msg(timeout=timeout))["parent_header"].get(
            "msg_id"
        ) != msg_id:
            pass
        return CellResult(reply, messages)

    def __enter__(self) -> RunningKernel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def tool_results_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool_result blocks of a message sent to the API."""
    if isinstance(message["content"], str):
        return []
    return [b for b in message["content"] if b.get("type") == "tool_result"]


def assert_every_tool_use_answered(history: list[dict[str, Any]]) -> None:
    """The history the API was sent is valid: each tool_use is answered by the next message."""
    for index, message in enumerate(history):
        if message["role"] != "assistant" or isinstance(message["content"], str):
            continue
        uses = {b["id"] for b in message["content"] if b.get("type") == "tool_use"}
        if uses:
            answered = {r["tool_use_id"] for r in tool_results_of(history[index + 1])}
            assert uses == answered, f"message {index}: {uses - answered} unanswered"
