"""``view`` of a large text file: reading it whole (before) vs reading only what is shown (after).

Before is the file path of ``view`` as it was, reproduced here: read every byte, decode,
split all lines, number each, then cut the numbered text to the output limit. After is
``WorkspaceTools`` over ``LocalWorkspace``, the way a session runs the tool (event loop
included): it counts newlines chunk by chunk and reads only the ends it shows.

Variants run interleaved (before, after, after, before, ...) after a warm-up; the table
shows medians and their ratio. No assertions on time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from conjure_kernel.backends.local_workspace import LocalWorkspace
from conjure_kernel.tools.values import ToolCall
from conjure_kernel.tools.workspace import WorkspaceTools


def view_before(path: Path, view_range: list[int] | None, limit: int) -> str:
    """The old ``view_path`` for a regular file, then the old ``truncate_output``."""
    data = path.read_bytes()
    if b"\0" in data:
        raise ValueError("binary")
    lines = data.decode("utf-8").splitlines()
    first, last = (1, len(lines)) if view_range is None else view_range
    last = len(lines) if last == -1 else min(last, len(lines))
    text = "\n".join(f"{n:6}\t{line}" for n, line in enumerate(lines[first - 1 : last], first))
    return truncate_before(text, limit)


def truncate_before(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = max(limit // 2, 1)
    slack = half // 4

    def snap(boundary: int, exact: int) -> int:
        return boundary if boundary > 0 and abs(boundary - exact) <= slack else exact

    head_end = snap(text.rfind("\n", 0, half) + 1, half)
    tail_start = snap(text.find("\n", len(text) - half) + 1, len(text) - half)
    cut = text[head_end:tail_start]
    lines = cut.count("\n")
    note = (
        f"[... {len(cut):,} characters ({lines:,} lines) cut; "
        f"the output was {len(text):,} characters ...]"
    )
    head = text[:head_end]
    separator = "" if head.endswith("\n") or not head else "\n"
    return f"{head}{separator}{note}\n{text[tail_start:]}"


def make_file(path: Path, size: int) -> int:
    """Lines of 10 to 70 characters, like source code or a log; returns the line count."""
    lines, written, n = [], 0, 0
    while written < size:
        n += 1
        line = f"{n:>6} " + "lorem ipsum dolor sit amet consectetur "[: 3 + n * 7 % 60] + "\n"
        lines.append(line)
        written += len(line)
    path.write_text("".join(lines))
    return n


def interleave(variants: dict[str, Callable[[], object]], n: int) -> dict[str, list[float]]:
    for action in variants.values():  # warm-up: page cache, imports, first-call costs
        action()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for i in range(n):
        for name, action in list(variants.items())[:: -1 if i % 2 else 1]:
            started = time.perf_counter()
            action()
            samples[name].append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="bytes in the text file")
    parser.add_argument("--limit", type=int, default=30_000, help="output limit (characters)")
    parser.add_argument("-n", type=int, default=200, help="repetitions per variant")
    args = parser.parse_args()
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory(prefix="conjure-view-bench-") as scratch:
        path = Path(scratch) / "big.txt"
        line_count = make_file(path, args.size)
        size = path.stat().st_size
        tools = WorkspaceTools(
            LocalWorkspace(Path(scratch)), timeout=60, max_output_chars=args.limit
        )

        def view_after(view_range: list[int] | None) -> str:
            arguments = {"path": "big.txt"} | ({"view_range": view_range} if view_range else {})
            result = loop.run_until_complete(tools.run(ToolCall("toolu_b", "view", arguments)))
            if result.is_error:
                raise RuntimeError(result.content)
            return result.content

        cases = {"whole file": None, "view_range [100, 150]": [100, 150]}
        rows = []
        for label, view_range in cases.items():
            before, after = view_before(path, view_range, args.limit), view_after(view_range)
            same_ends = before[:200] == after[:200] and before[-200:] == after[-200:]
            samples = interleave(
                {
                    "before": lambda r=view_range: view_before(path, r, args.limit),
                    "after": lambda r=view_range: view_after(r),
                },
                args.n,
            )
            medians = {name: statistics.median(x) * 1e3 for name, x in samples.items()}
            rows.append((label, medians["before"], medians["after"], same_ends, len(after)))
    loop.close()
    print(
        f"view of a {size:,}-byte text file "
        f"({line_count:,} lines), output limit {args.limit:,} characters; "
        f"n={args.n} interleaved, medians"
    )
    print(f"{'case':<24} {'before ms':>10} {'after ms':>9} {'ratio':>8}  same ends  chars shown")
    for label, before_ms, after_ms, same_ends, shown in rows:
        print(
            f"{label:<24} {before_ms:>10.3f} {after_ms:>9.3f} {before_ms / after_ms:>7.1f}x"
            f"  {'yes' if same_ends else 'no':>9}  {shown:>11,}"
        )


if __name__ == "__main__":
    main()
