"""What a hybrid session's routing adds to a tool call, side by side with the backend alone.

The same calls run through a ``local`` session's executor and through a ``hybrid``
session that routes them to that same kind of backend (``default=local``, with a native
route beside it, so every call is routed), interleaved after a warm-up: ``bash_tool
true`` in the bubblewrap sandbox, and ``view`` of a small file. The difference is the
route lookup (which route offers the tool, whether the call names a skill's folder).

    .venv/bin/python benchmarks/hybrid.py [--calls 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from conjure_kernel.backends.base import SessionOptions
from conjure_kernel.backends.hybrid import HybridBackend
from conjure_kernel.backends.hybrid_settings import HybridSettings
from conjure_kernel.backends.local import LocalBackend
from conjure_kernel.backends.local_settings import LocalSettings
from conjure_kernel.backends.native import NativeSkill
from conjure_kernel.skills.discovery import load_skill
from conjure_kernel.tools.values import ToolCall


class Echo(NativeSkill):
    name = "echo"
    description = "Echoes."

    def execute(self, command, context):
        return command


def skill_in(root: Path) -> Path:
    folder = root / "skills" / "notes"
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text("---\nname: notes\ndescription: Notes.\n---\nBody.\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="conjure-hybrid-bench-"))
    (work := root / "work").mkdir()
    (work / "notes.txt").write_text("a line\n" * 20)
    skills = [load_skill(skill_in(root))]
    loop = asyncio.new_event_loop()
    local = loop.run_until_complete(
        LocalBackend().open_session(
            skills, SessionOptions(LocalSettings.parse({"workdir": str(work)}))
        )
    )
    routes = {"default": "local", "skill:echo": "native", "workdir": str(work)}
    hybrid = loop.run_until_complete(
        HybridBackend().open_session(
            skills, SessionOptions(HybridSettings.parse(routes), namespace={"Echo": Echo})
        )
    )
    calls = {
        "bash_tool true": ToolCall("toolu_b", "bash_tool", {"command": "true"}),
        "view notes.txt": ToolCall("toolu_v", "view", {"path": "notes.txt"}),
    }
    try:
        print(f"{'call':<16} {'local ms':>9} {'hybrid ms':>10} {'adds ms':>8} {'ratio':>6}")
        for name, call in calls.items():
            local_ms, hybrid_ms, adds = measure(
                lambda c=call: loop.run_until_complete(local.executor.run(c)),
                lambda c=call: loop.run_until_complete(hybrid.executor.run(c)),
                args.calls,
            )
            print(
                f"{name:<16} {local_ms:>9.3f} {hybrid_ms:>10.3f} {adds:>+8.3f} "
                f"{hybrid_ms / local_ms:>5.2f}x"
            )
    finally:
        loop.run_until_complete(LocalBackend().close(local))
        loop.run_until_complete(HybridBackend().close(hybrid))
        loop.close()


def measure(
    alone: Callable[[], object], routed: Callable[[], object], n: int
) -> tuple[float, float, float]:
    """Medians of each (ms) and the median of the paired differences, interleaved A B, B A."""
    for _ in range(10):
        alone(), routed()
    a_times, b_times = [], []
    for i in range(n):
        order = [(alone, a_times), (routed, b_times)]
        for action, times in order if i % 2 == 0 else reversed(order):
            started = time.perf_counter()
            action()
            times.append((time.perf_counter() - started) * 1000)
    differences = [b - a for a, b in zip(a_times, b_times, strict=True)]
    return statistics.median(a_times), statistics.median(b_times), statistics.median(differences)


if __name__ == "__main__":
    main()
