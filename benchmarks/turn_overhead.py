"""What a chat cell costs over making the same SDK call by hand, early and late in a long session.

Real kernels (jupyter_client) talk to the fake Messages API (``tests/fakeapi``, fixed
latency). A ``conjure`` kernel holds one conversation for ``--turns`` chat cells (no
``%reset``), so its requests grow with the history. Each turn, the latest request its
chat cell sent (conjure's system prompt, tools and the history so far) is handed to two
baselines, which stream it with the SDK and print the answer, as a new user would::

    with client.messages.stream(**request) as stream:
        for text in stream.text_stream:
            print(text, end="", flush=True)

- baseline (a), "python3 cell": that cell in a ``python3`` kernel (ipykernel, no conjure);
- baseline (b), "%%python cell": that cell as ``%%python`` in the same conjure kernel.

The cells of a turn run in alternating order (chat first, then last), after warm-up
turns that are dropped; when the chat cell runs last, the baselines send the previous
turn's request, one exchange shorter. Handing the request over is a cell of its own,
not timed. For the first and the last ``--window`` turns the script prints each cell's
median, the median (and quartiles) of what the chat cell adds per turn over each
baseline, and the ratio of the medians; then the slope over all turns.

``--widgets`` opens the comm a widget manager opens, as JupyterLab does, so chat cells
draw the widget trace instead of the HTML view; ``--history`` shows ``%history`` before
the first turn (with widgets, it follows every turn). ``--before PATH`` adds a conjure kernel
importing another checkout (``git worktree add /tmp/before REV``), its turns alternating
with this one's, each with its own baselines. No assertions on time: compare runs on
the same machine.

    .venv/bin/python benchmarks/turn_overhead.py [--turns 200] [--quick] [--widgets]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

from jupyter_client import KernelClient
from jupyter_client.kernelspec import KernelSpecManager
from kernels import kernel_specs, run_cell, start_kernel
from run import KEY, last_request
from session_growth import slope_ms_per_100

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fakeapi import FakeMessagesAPI, replies

WIDGET_CONTROL = "jupyter.widget.control"
CHAT = "chat cell"
PYTHON3 = "python3 cell"
PERCENT_PYTHON = "%%python cell"
BASELINES = {
    PYTHON3: "a python3 (ipykernel) kernel's cell streaming the same request with the SDK",
    PERCENT_PYTHON: "the same cell as %%python in the conjure kernel",
}

SDK_SETUP = """\
import json
import anthropic
_sdk = anthropic.Anthropic()
def _load(path):
    global _request
    with open(path) as file:
        _request = json.load(file)
def _turn():
    with _sdk.messages.stream(**_request) as stream:
        for text in stream.text_stream:
            print(text, end="", flush=True)
"""


class Kernel:
    """A started kernel that runs cells and times their round-trip."""

    def __init__(self, specs: KernelSpecManager, name: str, api: FakeMessagesAPI) -> None:
        env = {**os.environ, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url}
        env.pop("ANTHROPIC_AUTH_TOKEN", None)
        self.prefix = "" if name == "python3" else "%%python\n"
        """Put before every Python cell: a conjure kernel's plain cells are chat."""
        self.manager = start_kernel(specs, name, env=env)
        self.client: KernelClient = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def run(self, code: str) -> float:
        """Run ``code`` as a cell; seconds from the request to the kernel's idle status."""
        return run_cell(self.client, code)

    def connect_widget_manager(self) -> None:
        """Open the comm a widget manager opens (JupyterLab does), so chat cells draw widgets."""
        content = {"comm_id": uuid.uuid4().hex, "target_name": WIDGET_CONTROL, "data": {}}
        self.client.shell_channel.send(self.client.session.msg("comm_open", content))
        self.run(  # the kernel handles the comm before the next cell
            "%%python\nfrom conjure_kernel.notebook.frontends import widget_manager_connected\n"
            "assert widget_manager_connected(), 'no widget manager seen'"
        )

    def run_python(self, code: str) -> float:
        return self.run(self.prefix + code)

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


class Conversation:
    """One conjure kernel's conversation, its two baselines, and each cell's time per turn."""

    def __init__(
        self, conjure: Kernel, python3: Kernel, api: FakeMessagesAPI, folder: Path
    ) -> None:
        self.conjure, self.python3, self.api = conjure, python3, api
        self.request_file = folder / f"request-{uuid.uuid4().hex}.json"
        self.conjure.run(f"%backend local workdir={folder}")
        self.conjure.run_python(SDK_SETUP)
        self.times: dict[str, list[float]] = {CHAT: [], PYTHON3: [], PERCENT_PYTHON: []}

    def turn(self, chat_first: bool) -> None:
        """The chat cell, and both baselines sending the latest request it sent."""
        if chat_first:
            self.chat()
        self.hand_over()
        baselines = [(PYTHON3, self.python3), (PERCENT_PYTHON, self.conjure)]
        for name, kernel in baselines[:: 1 if chat_first else -1]:
            self.times[name].append(kernel.run_python("_turn()"))
        if not chat_first:
            self.chat()

    def chat(self) -> None:
        self.times[CHAT].append(self.conjure.run("hi"))
        self.request_file.write_text(json.dumps(last_request(self.api)))

    def hand_over(self) -> None:
        """Load the chat cell's latest request in both baselines' kernels (not timed)."""
        for kernel in (self.python3, self.conjure):
            kernel.run_python(f"_load({str(self.request_file)!r})")


def window_row(times: dict[str, list[float]], turns: slice, label: str) -> str:
    """Medians of each cell in ``turns``, and what the chat cell adds over each baseline."""
    chat = times[CHAT][turns]
    medians = [f"{statistics.median(times[name][turns]) * 1e3:>8.1f}" for name in times]
    added, ratios = [], []
    for name in BASELINES:
        base = times[name][turns]
        paired = [c - b for c, b in zip(chat, base, strict=True)]
        low, _, high = (q * 1e3 for q in statistics.quantiles(paired, n=4))
        added.append(f"{statistics.median(paired) * 1e3:>+8.2f} [{low:+.1f}, {high:+.1f}]")
        ratios.append(f"{statistics.median(chat) / statistics.median(base):>7.3f}x")
    return f"{label:<10}" + "".join(medians) + "".join(f"{a:>22}" for a in added) + "".join(ratios)


def report(times: dict[str, list[float]], args: argparse.Namespace, label: str) -> None:
    window = min(args.window, len(times[CHAT]) // 2)
    view = "the widget trace (a widget manager is connected)" if args.widgets else "the HTML view"
    view += ", below a %history shown first" if args.history else ""
    print(
        f"\n{label}: chat cell vs the same SDK call by hand, one conversation of {args.turns} "
        f"turns, fake API latency {args.latency * 1e3:.0f} ms; chat cells draw {view}"
    )
    for mark, (name, meaning) in zip("ab", BASELINES.items(), strict=True):
        print(f"  ({mark}) {name}: {meaning}")
    print(
        f"{'':<10}{'median ms of each cell':^24}{'chat adds ms [quartiles]':^44}{'ratio':^16}\n"
        f"{'turns':<10}{'chat':>8}{'(a)':>8}{'(b)':>8}{'vs (a)':>22}{'vs (b)':>22}"
        f"{'vs (a)':>8}{'vs (b)':>8}"
    )
    print(window_row(times, slice(None, window), f"first {window}"))
    print(window_row(times, slice(-window, None), f"last {window}"))
    print(window_row(times, slice(None), "all"))
    slopes = [
        slope_ms_per_100([c - b for c, b in zip(times[CHAT], times[name], strict=True)])
        for name in BASELINES
    ]
    print(
        f"slope of what the chat cell adds, ms per 100 turns: {slopes[0]:+.2f} vs (a), "
        f"{slopes[1]:+.2f} vs (b)"
    )
    print("aim: the chat cell adds under 1.5 ms per turn, flat over the session")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=200, help="chat cells in the session")
    parser.add_argument("--window", type=int, default=20, help="turns in 'first' and 'last'")
    parser.add_argument("--warmup", type=int, default=5, help="turns run first and dropped")
    parser.add_argument("--latency", type=float, default=0.02, help="fake API latency (s)")
    parser.add_argument(
        "--widgets", action="store_true", help="act as JupyterLab: chat cells draw widgets"
    )
    parser.add_argument(
        "--history", action="store_true", help="show %%history first (it follows every turn)"
    )
    parser.add_argument("--before", type=Path, help="also a conjure kernel from this checkout")
    parser.add_argument("--quick", action="store_true", help="40 turns, 2 warm-up turns")
    args = parser.parse_args()
    if args.quick:
        args.turns, args.warmup = 40, 2
    for name, conversation in run_session(args).items():
        label = f"conjure_kernel from {args.before}" if name == "before" else "this checkout"
        report(conversation.times, args, label)


def run_session(args: argparse.Namespace) -> dict[str, Conversation]:
    """Start the kernels, run the turns, and return each conjure kernel's times."""
    folder = Path(tempfile.mkdtemp(prefix="conjure-turn-overhead-"))
    specs = kernel_specs(args.before)
    names = ["conjure"] + (["before"] if args.before else [])
    with FakeMessagesAPI(latency=args.latency) as api:
        api.responder = lambda body: replies.text("ok")
        python3, *conjures = kernels = [Kernel(specs, name, api) for name in ["python3", *names]]
        try:
            python3.run(SDK_SETUP)
            conversations = {}
            for name, kernel in zip(names, conjures, strict=True):
                if args.widgets:
                    kernel.connect_widget_manager()
                conversations[name] = Conversation(kernel, python3, api, folder)
                if args.history:
                    kernel.run("%history")
            for i in range(args.warmup + args.turns):
                for conversation in list(conversations.values())[:: 1 if i % 2 else -1]:
                    conversation.turn(chat_first=i % 2 == 0)
                if i + 1 == args.warmup:
                    for conversation in conversations.values():
                        conversation.times = {name: [] for name in conversation.times}
            return conversations
        finally:
            for kernel in kernels:
                kernel.close()


if __name__ == "__main__":
    main()
