"""A realistic multi-turn session for prompt-cache measurements, and a player for it.

Shared by the caching test (tests/clients) and ``benchmarks/cache.py`` so both measure
the same conversation: a 6k-token system prompt, five turns, the third of which makes
``parallel`` tool calls at once (twice that many blocks in one step, past the API's
20-block cache lookback).
"""

from __future__ import annotations

import asyncio
from typing import Any

from conjure_kernel.clients.anthropic_client import AnthropicClient
from conjure_kernel.clients.base import DEFAULT_MODEL, ModelRequest, Usage
from conjure_kernel.tools.schemas import SKILL_TOOLS

from . import replies
from .server import FakeMessagesAPI

__all__ = ["SYSTEM", "play", "wide_session"]

SYSTEM = "You are a careful data assistant working in a notebook. " * 20 + "".join(
    f"<skill><name>skill-{i}</name><description>Handles task family {i}; read its SKILL.md "
    f"before use. {'Details. ' * 30}</description></skill>\n"
    for i in range(60)
)
"""About 6k tokens: instructions and a 60-skill catalog, a realistic session prefix."""
_SKILL_BODY = "\n".join(f"{i:>4}\tstep {i}: check the columns and totals" for i in range(1, 200))

Session = list[tuple[str, list[replies.Reply]]]


def wide_session(parallel: int) -> Session:
    """Five turns of (message, scripted replies); the third makes ``parallel`` calls at once."""
    return [
        (
            "Summarise the report skill.",
            [
                replies.tool_use("view", {"path": "/skills/report/SKILL.md"}),
                replies.text("It checks."),
            ],
        ),
        (
            "Which data files are there?",
            [replies.tool_use("bash_tool", {"command": "ls data"}), replies.text("The files.")],
        ),
        (
            "Check every data file.",
            [
                replies.tool_uses(
                    [("bash_tool", {"command": f"wc -l data/f{i:02}.csv"}) for i in range(parallel)]
                ),
                replies.text("All have 120 lines."),
            ],
        ),
        (
            "Write the summary.",
            [
                replies.tool_use("create_file", {"path": "summary.md", "file_text": "# Summary\n"}),
                replies.text("Written."),
            ],
        ),
        ("Anything else?", [replies.text("No, everything is consistent.")]),
    ]


def _tool_output(call: dict[str, Any], parallel: int) -> str:
    if call["name"] == "view":
        return _SKILL_BODY
    if call["input"].get("command") == "ls data":
        return "\n".join(f"f{i:02}.csv" for i in range(parallel)) + "\nexit code: 0"
    if call["name"] == "bash_tool":
        return f"120 {call['input']['command'].split()[-1]}\nexit code: 0"
    return "created summary.md (10 bytes)"


def play(api: FakeMessagesAPI, parallel: int) -> list[tuple[int, Usage]]:
    """Play ``wide_session(parallel)`` as the tool loop would; (turn, usage) of every request.

    Requests are built by ``anthropic_client.build_params`` as it is at call time, so a
    caller may swap in another placement to compare.
    """
    client = AnthropicClient(api_key="test-key", base_url=api.url)
    history: list[Any] = []
    usages: list[tuple[int, Usage]] = []

    async def run() -> None:
        for turn, (message, script) in enumerate(wide_session(parallel), start=1):
            api.script(*script)
            history.append({"role": "user", "content": message})
            while True:
                request = ModelRequest(DEFAULT_MODEL, SYSTEM, list(history), SKILL_TOOLS)
                *_, response = [item async for item in client.stream(request)]
                history.append(response.message)
                usages.append((turn, response.usage))
                if not response.tool_uses():
                    break
                results = [
                    {
                        "type": "tool_result",
                        "tool_use_id": call["id"],
                        "content": _tool_output(call, parallel),
                    }
                    for call in response.tool_uses()
                ]
                history.append({"role": "user", "content": results})
        await client.aclose()

    asyncio.run(run())
    return usages
