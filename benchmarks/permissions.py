"""What a permission decision costs before a command runs, side by side with running it.

For each command: ``decide()`` in ``ask`` with an allow rule (the grammar and the rules),
in ``read-only`` (plus where the command reads: its paths, and the folders it walks), and
the command itself run by ``bash -c`` in the same workspace, the floor every decision is
paid on top of. The workspace holds ``--files`` files in nested folders and a git
repository (an allowed git command reads its configuration first).

    .venv/bin/python benchmarks/permissions.py [--files 10000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from conjure_kernel.conversation.permissions import Permissions, decide
from conjure_kernel.conversation.places import Places
from conjure_kernel.conversation.shell_commands.parse import parse_command
from conjure_kernel.tools.values import ToolCall

COMMANDS = [
    "ls -la",
    "cat README.md",
    "grep -rn needle .",
    "find . -name '*.py' | wc -l",
    "git status --short",
]


def workspace(root: Path, files: int) -> Path:
    """``files`` small files, 100 to a folder, a README and a git repository."""
    for number in range(files):
        folder = root / f"pkg{number // 100}"
        folder.mkdir(exist_ok=True)
        (folder / f"m{number}.py").write_text("x = 1\n")
    (root / "README.md").write_text("readme\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def median_ms(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(
    command: str,
    root: Path,
    places: Places,
    ask: Permissions,
    read_only: Permissions,
    repeat: int,
) -> tuple[float, float, float]:
    """Medians of the decision in ask with its rule, in read-only, and of running it."""
    call = ToolCall("t", "bash_tool", {"command": command})

    def decided(permissions: Permissions, mode: str) -> object:
        parse_command.cache_clear()  # a new command each time, as a model sends them
        return decide(call, mode, permissions, places, "local")  # type: ignore[arg-type]

    return (
        median_ms(lambda: decided(ask, "ask"), repeat),
        median_ms(lambda: decided(read_only, "read-only"), repeat),
        median_ms(
            lambda: subprocess.run(["bash", "-c", command], cwd=root, capture_output=True), repeat
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = workspace(Path(folder), args.files)
        places = Places.of({"workdir": str(root)})
        ask = Permissions.parse("ask", [f"bash_tool({c.split()[0]}:*)" for c in COMMANDS])
        read_only = Permissions.parse("read-only")
        print(f"workspace: {args.files:,} files; median of {args.repeat} runs, in ms")
        print(f"{'command':<30} {'ask+rule':>9} {'read-only':>10} {'bash -c':>9} {'ratio':>7}")
        for command in COMMANDS:
            asked, reading, ran = measure(command, root, places, ask, read_only, args.repeat)
            worst = max(asked, reading)
            print(f"{command:<30} {asked:>9.2f} {reading:>10.2f} {ran:>9.2f} {worst / ran:>6.2f}x")


if __name__ == "__main__":
    main()
