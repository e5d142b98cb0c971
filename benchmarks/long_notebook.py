"""A long notebook against a small window: turns answered, tokens sent, prompt caching
across the context edits, side by side in one run.

One session of ``--turns`` turns, each viewing a 2,500-character file, is played
through ``AnthropicClient`` against the fake Messages API (``tests/fakeapi``), whose
model has a window of ``--window`` tokens (tokens ≈ JSON characters / 4, the fake's
count) and a simulated prompt cache. Three ways:

(a) **unmanaged**: the keeper sends every request as the loop built it, as before this
    change: the first request past the window fails the turn;
(b) **by the kernel**: the model has no context editing, the kernel clears and compacts;
(c) **by the API**: the model has context editing, the fake API clears and compacts.

For each: turns answered, input tokens billed per turn, the share of input read from
the cache over all requests and over the three requests after each edit (how fast
caching recovers), and the edits made. No assertions: this prints measurements.

    .venv/bin/python benchmarks/long_notebook.py [--turns 300] [--window 20000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conjure_kernel.clients.anthropic_client import AnthropicClient
from conjure_kernel.clients.base import ContextEdited, ModelRequest, Usage
from conjure_kernel.clients.model_facts import ModelFacts, Supports
from conjure_kernel.conversation.context import ContextKeeper
from conjure_kernel.conversation.session import Session
from conjure_kernel.events import ModelStepFinished, Notice, TurnFailed

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from fakeapi import FakeMessagesAPI, replies  # noqa: E402
from fakeapi.models import capabilities, model_info  # noqa: E402

MODEL = "claude-small-1"


def answer(body: dict[str, Any]) -> replies.Reply:
    last = body["messages"][-1]["content"]
    if isinstance(last, list) and any(block.get("type") == "tool_result" for block in last):
        return replies.text("I read it: a long page of the letter x.")
    return replies.tool_use("view", {"path": "page.txt", "description": "read the page"})


class Unmanaged(ContextKeeper):
    """The session before this change: every request goes out as the loop built it."""

    def shape(self, request: ModelRequest) -> tuple[ModelRequest, list[ContextEdited]]:
        return request, []


@dataclass
class Outcome:
    answered: int = 0
    steps: list[Usage] | None = None
    edits: list[int] | None = None
    """The index of the first step after each edit."""


def play(way: str, turns: int, window: int) -> Outcome:
    with FakeMessagesAPI(responder=answer) as api, tempfile.TemporaryDirectory() as folder:
        editing = way == "by the API"
        api.models.models.append(
            model_info(MODEL, "Claude Small 1", context=window, caps=capabilities(editing=editing))
        )
        workdir = Path(folder)
        (workdir / "page.txt").write_text(("x" * 99 + "\n") * 25)
        client = AnthropicClient(api_key="bench", base_url=api.url)
        session = Session(client=client, model=MODEL, settings={"workdir": folder})
        if way == "unmanaged":
            session.context = Unmanaged()
        session.context.facts = lambda name: ModelFacts(window, Supports(context_editing=editing))
        outcome = Outcome(steps=[], edits=[])
        try:
            for turn in range(turns):
                events = session.runner.run(_turn(session, f"Read the page again ({turn})."))
                for event in events:
                    if isinstance(event, Notice) and (
                        "cleared" in event.text or "compacted" in event.text
                    ):
                        outcome.edits.append(len(outcome.steps))
                    elif isinstance(event, ModelStepFinished):
                        outcome.steps.append(event.response.usage)
                if any(isinstance(event, TurnFailed) for event in events):
                    break
                outcome.answered += 1
        finally:
            session.close()
        return outcome


async def _turn(session: Session, message: str) -> list:
    return [event async for event in session.chat(message)]


def read_share(steps: list[Usage]) -> float:
    billed = sum(step.all_input for step in steps)
    return sum(step.cache_read_input_tokens for step in steps) / billed if billed else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--window", type=int, default=20_000)
    args = parser.parse_args()
    print(f"{args.turns} turns, a window of {args.window:,} tokens (the fake API's count)\n")
    header = ("way", "answered", "input/turn", "cache read", "after an edit", "edits")
    rows = [header]
    for way in ("unmanaged", "by the kernel", "by the API"):
        outcome = play(way, args.turns, args.window)
        steps, edits = outcome.steps or [], outcome.edits or []
        after = [steps[i] for start in edits for i in range(start, min(start + 3, len(steps)))]
        per_turn = sum(s.all_input for s in steps) / max(outcome.answered, 1)
        rows.append(
            (
                way,
                f"{outcome.answered}/{args.turns}",
                f"{per_turn:,.0f}",
                f"{read_share(steps):.0%}",
                f"{read_share(after):.0%}" if after else "-",
                str(len(edits)),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
