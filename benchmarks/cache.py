"""Prompt caching before and after the breakpoint change, measured side by side in one run.

(a) One multi-turn session, whose third turn makes ten parallel tool calls (20 blocks in
    one step), is played through ``AnthropicClient`` against the fake Messages API
    (``tests/fakeapi``) twice: with the placement this change replaced (``before_build_params``,
    a breakpoint on the system prompt, the last tool and the final message's last block)
    and with today's ``build_params``. The fake API simulates the prompt cache (tokens
    ≈ JSON characters / 4, a 20-block lookback), so the shares are its numbers, not the
    real API's; the placements are compared on equal terms.
(b) ``build_params`` for a 10-message and a 400-message history, before and after: the
    old placement scanned every block of every message on every step.

No assertions: this prints measurements. ``.venv/bin/python benchmarks/cache.py``
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from conjure_kernel.clients import anthropic_client
from conjure_kernel.clients.base import DEFAULT_MODEL, ModelRequest, Usage
from conjure_kernel.clients.request_params import build_params
from conjure_kernel.tools.schemas import SKILL_TOOLS

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from fakeapi import FakeMessagesAPI, sessions  # noqa: E402

Placement = Callable[[ModelRequest], dict[str, Any]]
MARK = {"type": "ephemeral"}
PARALLEL = 10


def before_build_params(request: ModelRequest) -> dict[str, Any]:
    """BEFORE: the placement this change replaced, reproduced for comparison.

    Breakpoints on the system prompt, the last tool and the final message's last
    cacheable block; then every block of every message is scanned to keep at most four.
    """
    params: dict[str, Any] = {"model": request.model, "max_tokens": request.max_tokens}
    used = 0
    if request.system:
        params["system"] = [{"type": "text", "text": request.system, "cache_control": MARK}]
        used += 1
    if request.tools:
        tools = [dict(tool) for tool in request.tools]
        tools[-1].setdefault("cache_control", MARK)
        params["tools"] = tools
        used += sum("cache_control" in tool for tool in tools)
    messages: list[Any] = list(request.messages)
    content = messages[-1]["content"]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    for index in range(len(blocks) - 1, -1, -1):
        if blocks[index].get("type") not in ("thinking", "redacted_thinking"):
            blocks[index] = {"cache_control": MARK, **blocks[index]}
            messages[-1] = {**messages[-1], "content": blocks}
            break
    marked = [
        (i, j)
        for i, message in enumerate(messages)
        if isinstance(message.get("content"), list | tuple)
        for j, block in enumerate(message["content"])
        if isinstance(block, Mapping) and "cache_control" in block
    ]
    for i, j in marked[: max(0, len(marked) - (4 - used))]:
        content = list(messages[i]["content"])
        content[j] = {k: v for k, v in content[j].items() if k != "cache_control"}
        messages[i] = {**messages[i], "content": content}
    params["messages"] = messages
    return params


@contextlib.contextmanager
def placement(function: Placement) -> Iterator[None]:
    """Make ``AnthropicClient`` build its requests with ``function`` for a while."""
    saved = anthropic_client.build_params
    anthropic_client.build_params = function
    try:
        yield
    finally:
        anthropic_client.build_params = saved


def play(function: Placement) -> list[tuple[int, Usage]]:
    """Play the session with requests built by ``function``; (turn, usage) for every request."""
    with FakeMessagesAPI() as api, placement(function):
        return sessions.play(api, PARALLEL)


def total(usage: Usage) -> int:
    return usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens


def share(usages: Sequence[Usage]) -> float:
    return sum(u.cache_read_input_tokens for u in usages) / sum(total(u) for u in usages)


def cost(usages: Sequence[Usage]) -> float:
    """Input cost relative to no caching: reads cost 0.1 and 5-minute writes 1.25 of the input price."""
    paid = sum(
        u.input_tokens + 1.25 * u.cache_creation_input_tokens + 0.1 * u.cache_read_input_tokens
        for u in usages
    )
    return paid / sum(total(u) for u in usages)


def cache_table() -> list[str]:
    runs = {"before": play(before_build_params), "after": play(build_params)}
    lines = [
        "prompt cache: share of input tokens read from cache (fake API, tokens ≈ JSON chars / 4)",
        f"{'turn':>4}  {'requests':>8}  {'before':>7} {'(worst)':>8}  {'after':>7} {'(worst)':>8}",
    ]
    for turn in range(1, len(sessions.wide_session(PARALLEL)) + 1):
        cells = []
        for usages in runs.values():
            mine = [u for t, u in usages if t == turn]
            cells.append(f"{share(mine):>7.1%} {min(map(share, ([u] for u in mine))):>8.1%}")
        note = f"  <- {PARALLEL} parallel tool calls" if turn == 3 else ""
        count = sum(t == turn for t, _ in runs["after"])
        lines.append(f"{turn:>4}  {count:>8}  {cells[0]}  {cells[1]}{note}")
    every = {name: [u for _, u in usages] for name, usages in runs.items()}
    lines.append(
        f"{'all':>4}  {len(every['after']):>8}  {share(every['before']):>7.1%} {'':>8}  "
        f"{share(every['after']):>7.1%}"
    )
    lines.append(
        f"input cost vs. no caching: before {cost(every['before']):.1%}, "
        f"after {cost(every['after']):.1%}"
    )
    return lines


def history(length: int) -> list[dict[str, Any]]:
    """A tool-using conversation of ``length`` messages: three parallel calls per step."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Check the data."}]
    step = 0
    while len(messages) < length:
        ids = [f"toolu_{step:04}_{i}" for i in range(3)]
        calls = [
            {"type": "tool_use", "id": i, "name": "bash_tool", "input": {"command": "ls"}}
            for i in ids
        ]
        results = [{"type": "tool_result", "tool_use_id": i, "content": "a\nb"} for i in ids]
        messages += [{"role": "assistant", "content": calls}, {"role": "user", "content": results}]
        step += 1
    return messages[:length]


def time_calls(function: Placement, request: ModelRequest, calls: int) -> float:
    """Median microseconds per call over ``calls`` calls, in 20 batches."""
    batch = max(1, calls // 20)
    samples = []
    for _ in range(20):
        started = time.perf_counter()
        for _ in range(batch):
            function(request)
        samples.append((time.perf_counter() - started) / batch * 1e6)
    return statistics.median(samples)


def timing_table(calls: int) -> list[str]:
    functions = {"before": before_build_params, "after": build_params}
    requests = {
        n: ModelRequest(DEFAULT_MODEL, sessions.SYSTEM, history(n), SKILL_TOOLS) for n in (10, 400)
    }
    for function in functions.values():  # warm-up
        for request in requests.values():
            time_calls(function, request, 20)
    micros = {
        (name, n): time_calls(function, request, calls)
        for n, request in requests.items()
        for name, function in functions.items()
    }
    lines = [
        f"build_params, median µs per call ({calls} calls each)",
        f"{'history':>12}  {'before':>9}  {'after':>9}",
    ]
    for n in requests:
        lines.append(f"{n:>3} messages  {micros['before', n]:>9.1f}  {micros['after', n]:>9.1f}")
    ratios = [micros[name, 400] / micros[name, 10] for name in functions]
    lines.append(f"{'400 / 10':>12}  {ratios[0]:>8.1f}x  {ratios[1]:>8.1f}x")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="build_params calls per timing")
    args = parser.parse_args(argv)
    print("\n".join(cache_table()))
    print()
    print("\n".join(timing_table(args.calls)))


if __name__ == "__main__":
    main()
