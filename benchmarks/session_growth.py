"""What a chat cell adds per turn over the bare SDK call, and whether that grows with the session.

One conjure kernel holds one conversation for ``--turns`` turns (no ``%reset``) against
the fake Messages API (``tests/fakeapi``, fixed latency). After each chat cell, the
baseline is measured on the very request the cell just sent, so both sides carry the
same, growing history: a ``%%python pass`` cell's round-trip in the same kernel (what
any kernel turn costs) plus the bare SDK stream of that request in this process. The
overhead of a turn is the chat cell minus that sum; the script prints its median in
windows of turns and a fitted slope (ms per 100 turns). ``--before PATH`` runs the same
with another checkout's conjure_kernel in a second kernel, turn by turn in alternation.

    .venv/bin/python benchmarks/session_growth.py [--turns 200] [--before /tmp/before]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anthropic
from kernels import kernel_specs, run_cell, start_kernel

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from fakeapi import FakeMessagesAPI, replies  # noqa: E402

KEY = "bench-key-not-a-secret"


class KernelTurns:
    """A kernel that chats, and the baseline measured on each request it sent."""

    def __init__(self, specs: Any, name: str, api: FakeMessagesAPI, workdir: Path) -> None:
        env = {**os.environ, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url}
        env.pop("ANTHROPIC_AUTH_TOKEN", None)
        self.api = api
        self.manager = start_kernel(specs, name, env=env)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)
        self.run(f"%backend local workdir={workdir}")
        self.sdk = anthropic.Anthropic(api_key=KEY, base_url=api.url)
        self.overheads: list[float] = []

    def run(self, code: str) -> float:
        return run_cell(self.client, code)

    def turn(self) -> None:
        chat = self.run("hi")
        params = {k: v for k, v in self.api.requests[-1].body.items() if k != "stream"}
        started = time.perf_counter()
        with self.sdk.messages.stream(**params) as stream:
            for _ in stream:
                pass
            stream.get_final_message()
        bare = time.perf_counter() - started
        self.overheads.append(chat - bare - self.run("%%python\npass"))

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def slope_ms_per_100(values: list[float]) -> float:
    """Least-squares slope of ``values`` (seconds) against turn number, in ms per 100 turns."""
    xs = range(len(values))
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(values)
    num = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, values, strict=True))
    den = sum((x - mean_x) ** 2 for x in xs)
    return num / den * 1e3 * 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.02, help="fake API latency (s)")
    parser.add_argument("--before", type=Path, help="a checkout whose conjure_kernel to compare")
    args = parser.parse_args()
    specs = kernel_specs(args.before)
    names = ["conjure"] + (["before"] if args.before else [])
    workdir = Path(tempfile.mkdtemp(prefix="conjure-growth-"))
    with FakeMessagesAPI(latency=args.latency) as api:
        api.responder = lambda body: replies.text("ok")
        kernels = {name: KernelTurns(specs, name, api, workdir) for name in names}
        try:
            for _ in range(3):  # warm-up turns, dropped
                for kernel in kernels.values():
                    kernel.turn()
            for kernel in kernels.values():
                kernel.overheads.clear()
            for i in range(args.turns):
                for kernel in list(kernels.values())[:: -1 if i % 2 else 1]:
                    kernel.turn()
        finally:
            for kernel in kernels.values():
                kernel.close()
    window = max(args.turns // 10, 1)
    labels = {"before": f"conjure ({args.before})"}
    print(f"chat cell overhead over '%%python pass' + bare SDK, one session of {args.turns} turns")
    print(f"(median ms of each window of {window} turns; slope fitted over all turns)")
    header = f"{'kernel':<24}{'first':>8}{'middle':>8}{'last':>8}{'all':>8}{'ms/100 turns':>14}"
    print(header)
    for name, kernel in kernels.items():
        o = kernel.overheads
        mid = len(o) // 2
        cells = [o[:window], o[mid - window // 2 : mid + (window + 1) // 2], o[-window:], o]
        medians = "".join(f"{statistics.median(c) * 1e3:>8.2f}" for c in cells)
        print(f"{labels.get(name, name):<24}{medians}{slope_ms_per_100(o):>+14.2f}")
    print("aim: at most 1.5 ms per turn, flat with the session's length")


if __name__ == "__main__":
    main()
