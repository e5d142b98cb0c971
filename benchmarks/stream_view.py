"""What the live views of a streamed answer cost the kernel, next to printing each delta.

Real ``conjure`` kernels, the fake Messages API (``tests/fakeapi``) streaming a scripted
Markdown answer one word per SSE event at ``--words-per-second`` (50 is a realistic pace
for Claude; the pace sets how many live updates a turn makes, so a faster one flatters
the views). For each answer length, side by side, in turn:

(a) a ``%%python`` cell streaming the answer with the bare ``anthropic`` SDK,
    ``print(delta, end="", flush=True)`` for each text delta;
(b) a chat cell drawn by the HTML view (a kernel no widget manager connected to, as
    under nbclient or ``jupyter console``), then the saved bundle;
(c) a chat cell drawn by the widget trace, in a second kernel whose client opened the
    widget manager's control comm as JupyterLab does (``tests/widget_frontend.py``).

Measured per cell: the kernel process's CPU time (user + system, from psutil) and the
bytes of every iopub message the cell caused, comm messages included (all frames as
sent: signature, header, parent header, metadata, content). The script prints each
variant against (a), the bytes per byte of the answer, and the exponent of cost against
answer length fitted on a log-log scale (1 is linear, 2 quadratic). ``--before PATH``
runs (b) and (c) with another checkout's conjure_kernel too, in kernels of their own.
No assertions: this is a benchmark, not a test.

    .venv/bin/python benchmarks/stream_view.py [--sizes 2000 8000] [--before /tmp/before]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from jupyter_client.kernelspec import KernelSpecManager
from kernels import kernel_specs, start_kernel

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from fakeapi import FakeMessagesAPI, replies  # noqa: E402
from widget_frontend import message_bytes, open_widget_manager  # noqa: E402

from conjure_kernel.clients.base import DEFAULT_MODEL  # noqa: E402

KEY = "bench-key-not-a-secret"
BARE = "bare SDK, print"
BARE_SDK_CELL = f"""%%python
import anthropic
with anthropic.Anthropic().messages.stream(
    model="{DEFAULT_MODEL}", max_tokens=64000, messages=[{{"role": "user", "content": "write"}}]
) as _stream:
    for _delta in _stream.text_stream:
        print(_delta, end="", flush=True)
"""
VOCABULARY = (
    "the kernel streams an answer while each paragraph settles into place and tools run "
    "beside it so a reader follows along without waiting for the end of a long turn that "
    "explains data models queues caches files tests notebooks and their saved outputs"
)


@dataclass
class Cost:
    """What one cell cost: kernel CPU seconds, iopub bytes and messages, wall seconds."""

    cpu: float
    iopub_bytes: int
    messages: int
    wall: float


def scripted_answer(words: int, seed: int = 7) -> str:
    """Markdown of about ``words`` words: paragraphs, a list now and then, code blocks."""
    rng, vocabulary = random.Random(seed), VOCABULARY.split()
    parts: list[str] = []
    written = 0
    while written < words:
        kind = len(parts) % 12
        if kind == 5:
            items = [" ".join(rng.choices(vocabulary, k=rng.randint(4, 12))) for _ in range(4)]
            part = "\n".join(f"- **{item.split()[0]}** {item}" for item in items)
        elif kind == 11:
            lines = [
                f"value_{i} = compute({', '.join(rng.choices(vocabulary, k=3))})" for i in range(6)
            ]
            part = "```python\n" + "\n".join(lines) + "\n```"
        else:
            part = " ".join(rng.choices(vocabulary, k=rng.randint(40, 120))).capitalize() + "."
        parts.append(part)
        written += len(part.split())
    return "\n\n".join(parts)


class BenchKernel:
    """A kernel pointed at the fake API; runs cells and measures what each one costs."""

    def __init__(
        self, specs: KernelSpecManager, name: str, api: FakeMessagesAPI, *, widgets: bool
    ) -> None:
        env = {**os.environ, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url}
        env.pop("ANTHROPIC_AUTH_TOKEN", None)
        self.manager = start_kernel(specs, name, env=env)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)
        if widgets:
            open_widget_manager(self.client)
        self.process = psutil.Process(self.manager.provisioner.pid)

    def measure(self, code: str, timeout: float) -> Cost:
        """Run ``code``; its CPU, the iopub traffic it caused and its wall time."""
        started, cpu = time.perf_counter(), self._cpu()
        msg_id = self.client.execute(code)
        sizes = [message_bytes(self.client, m) for m in self._iopub_until_idle(msg_id, timeout)]
        reply = self.client.get_shell_msg(timeout=timeout)
        wall, cpu = time.perf_counter() - started, self._cpu() - cpu
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"cell {code[:30]!r} failed: {reply['content'].get('evalue')}")
        return Cost(cpu, sum(sizes), len(sizes), wall)

    def _iopub_until_idle(self, msg_id: str, timeout: float) -> list[dict]:
        """Every iopub message of the cell, up to its idle status."""
        messages = []
        while True:
            message = self.client.get_iopub_msg(timeout=timeout)
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            messages.append(message)
            state = message["content"].get("execution_state")
            if message["msg_type"] == "status" and state == "idle":
                return messages

    def _cpu(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def loglog_exponent(sizes: list[int], costs: list[float]) -> float:
    """Least-squares slope of log(cost) against log(size): 1 is linear, 2 quadratic."""
    fit = statistics.linear_regression([math.log(s) for s in sizes], [math.log(c) for c in costs])
    return fit.slope


def run_variant(
    kernel: BenchKernel, api: FakeMessagesAPI, code: str, answer: str, pace: float
) -> Cost:
    """Stream ``answer`` at ``pace`` seconds per word into ``code``'s cell; what it cost."""
    api.script(replies.slow(replies.text(answer), pace, between_events=True))
    cost = kernel.measure(code, timeout=len(answer.split()) * pace * 4 + 120)
    if api.pending:
        raise RuntimeError("the cell did not ask the API for the answer")
    return cost


def report(sizes: list[int], answers: list[str], costs: dict[str, list[Cost]]) -> None:
    bare = costs[BARE]
    print(f"{'variant':<24}{'words':>7}{'CPU s':>8}{'sent KB':>10}{'msgs':>7}{'wall s':>8}", end="")
    print(f"{'CPU x':>8}{'bytes x':>9}{'x answer':>10}")
    for name, rows in costs.items():
        for size, answer, cost, base in zip(sizes, answers, rows, bare, strict=True):
            print(
                f"{name:<24}{size:>7,}{cost.cpu:>8.2f}{cost.iopub_bytes / 1024:>10,.1f}"
                f"{cost.messages:>7,}{cost.wall:>8.1f}{cost.cpu / base.cpu:>7.2f}x"
                f"{cost.iopub_bytes / base.iopub_bytes:>8.2f}x"
                f"{cost.iopub_bytes / len(answer.encode()):>9.1f}x"
            )
    print(f"\n{'variant':<24}{'CPU exponent':>14}{'bytes exponent':>16}  (log-log fit over sizes)")
    for name, rows in costs.items():
        cpu = loglog_exponent(sizes, [cost.cpu for cost in rows])
        sent = loglog_exponent(sizes, [cost.iopub_bytes for cost in rows])
        print(f"{name:<24}{cpu:>14.2f}{sent:>16.2f}")
    print("CPU x and bytes x: against the bare SDK; x answer: bytes sent per byte of the answer")
    print("aims: both views at most the bare SDK's CPU and bytes; exponents ~1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 8000])
    parser.add_argument("--words-per-second", type=float, default=50.0)
    parser.add_argument("--before", type=Path, help="a checkout whose conjure_kernel to compare")
    args = parser.parse_args()
    specs = kernel_specs(args.before)
    pace = 1 / args.words_per_second
    workdir = Path(tempfile.mkdtemp(prefix="conjure-stream-view-"))
    answers = [scripted_answer(size) for size in args.sizes]
    with FakeMessagesAPI() as api:
        kernels = {
            "html": BenchKernel(specs, "conjure", api, widgets=False),
            "widgets": BenchKernel(specs, "conjure", api, widgets=True),
        }
        variants = {
            BARE: (kernels["html"], BARE_SDK_CELL),
            "HTML view": (kernels["html"], "write"),
            "widget view": (kernels["widgets"], "write"),
        }
        if args.before:
            kernels["html before"] = BenchKernel(specs, "before", api, widgets=False)
            kernels["widgets before"] = BenchKernel(specs, "before", api, widgets=True)
            variants[f"HTML view ({args.before.name})"] = (kernels["html before"], "write")
            variants[f"widget view ({args.before.name})"] = (kernels["widgets before"], "write")
        costs: dict[str, list[Cost]] = {name: [] for name in variants}
        try:
            for kernel in kernels.values():
                kernel.measure(f"%backend local workdir={workdir}", timeout=60)
                run_variant(kernel, api, "write", scripted_answer(50), pace)  # warm-up
                run_variant(kernel, api, BARE_SDK_CELL, scripted_answer(50), pace)
            for i, answer in enumerate(answers):
                for name, (kernel, code) in list(variants.items())[:: -1 if i % 2 else 1]:
                    costs[name].append(run_variant(kernel, api, code, answer, pace))
                    kernel.measure("%reset", timeout=60)  # keep the conversation short
                print(f"  {args.sizes[i]:,} words done", file=sys.stderr, flush=True)
        finally:
            for kernel in kernels.values():
                kernel.close()
    print(f"a {args.words_per_second:g} words/s stream of a Markdown answer, per cell:")
    report(args.sizes, answers, costs)


if __name__ == "__main__":
    main()
