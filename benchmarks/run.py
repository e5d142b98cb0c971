"""What conjure adds on top of doing the same work by hand, measured side by side in one run.

(a) A chat turn against the fake Messages API (``tests/fakeapi``) with a fixed latency.
    Bare SDK calls send conjure's own request body (its system prompt and tools), so a
    difference is conjure's code, not a bigger payload. Library: ``Session.chat_sync`` vs
    a sync SDK stream. Kernel: a chat cell in a real ``conjure`` kernel vs the least any
    kernel turn costs, a ``%%python pass`` cell's round-trip plus the bare SDK call.
(b) A ``bash_tool`` call of ``true`` through the local workspace vs ``subprocess.run``.
(c) ``find_skills`` over 1,000 skills with 50 KB bodies vs walking the tree / reading
    1 KB of each SKILL.md, checking that no body was read.

Variants run interleaved (ABC, CBA, ...) after a warm-up so machine noise hits each alike;
an overhead is the median of the per-repetition differences. No assertions on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
from jupyter_client.manager import KernelManager

from conjure_kernel.backends.local_workspace import LocalWorkspace
from conjure_kernel.clients.anthropic_client import AnthropicClient
from conjure_kernel.clients.base import DEFAULT_MODEL
from conjure_kernel.conversation.session import Session
from conjure_kernel.skills.discovery import find_skills
from conjure_kernel.tools.values import ToolCall
from conjure_kernel.tools.workspace import WorkspaceTools

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from fakeapi import FakeMessagesAPI, replies  # noqa: E402
from kernels import run_cell  # noqa: E402

KEY = "bench-key-not-a-secret"
Samples = dict[str, list[float]]
Variant = Callable[[], float]  # runs once, returns the seconds of its measured part
BASELINES = """baselines: bare SDK calls send conjure's own request body (system prompt + tools) to
the same fake API. 'kernel turn' compares a chat cell with a '%%python pass' cell's round-
trip in the same conjure kernel plus the bare SDK call, paired per repetition: the least a
turn through any kernel costs. 'vs SDK cell' makes the call in a %%python cell instead; a
sync call on a kernel's main thread has a long tail (in python3 kernels too): noisier."""


def clock(action: Callable[[], object]) -> Variant:
    def timed() -> float:
        started = time.perf_counter()
        action()
        return time.perf_counter() - started

    return timed


def interleave(variants: dict[str, Variant], n: int, warmup: int = 3) -> Samples:
    for _ in range(warmup):
        for variant in variants.values():
            variant()
    samples: Samples = {name: [] for name in variants}
    for i in range(n):
        for name, variant in list(variants.items())[:: -1 if i % 2 else 1]:
            samples[name].append(variant())
    return samples


def compare(samples: Samples, a: str, b: str) -> dict[str, float]:
    """``a`` against ``b``: median of the paired differences, and ratio of the medians."""
    paired = [x - y for x, y in zip(samples[a], samples[b], strict=True)]
    ratio = statistics.median(samples[a]) / statistics.median(samples[b])
    return {"adds_ms": statistics.median(paired) * 1e3, "ratio": ratio}


def consume_stream(client: anthropic.Anthropic, params: dict[str, Any]) -> None:
    with client.messages.stream(**params) as stream:
        for _ in stream:
            pass
        stream.get_final_message()


def last_request(api: FakeMessagesAPI) -> dict[str, Any]:
    """The last request conjure sent, as ``messages.stream`` keyword arguments."""
    return {k: v for k, v in api.requests[-1].body.items() if k != "stream"}


def bench_library(api: FakeMessagesAPI, n: int, workdir: Path) -> Samples:
    client = AnthropicClient(api_key=KEY, base_url=api.url)
    settings = {"workdir": str(workdir)}
    session = Session(client=client, model=DEFAULT_MODEL, backend="local", settings=settings)

    def conjure_turn() -> float:
        started = time.perf_counter()
        events = list(session.chat_sync("hi"))
        elapsed = time.perf_counter() - started
        if events[-1].type != "turn_ended":
            raise RuntimeError(f"the turn failed: {events[-1]}")
        session.reset()  # keep the conversation from growing; not timed
        return elapsed

    conjure_turn()
    params, sdk = last_request(api), anthropic.Anthropic(api_key=KEY, base_url=api.url)
    minimal = {**params, "messages": [{"role": "user", "content": "hi"}]}
    del minimal["system"], minimal["tools"]
    variants = {
        "conjure Session.chat_sync": conjure_turn,
        "bare SDK, same request": clock(lambda: consume_stream(sdk, params)),
        "bare SDK, no system/tools": clock(lambda: consume_stream(sdk, minimal)),
    }
    try:
        return interleave(variants, n)
    finally:
        session.close()


def bench_kernel(api: FakeMessagesAPI, n: int, workdir: Path) -> Samples:
    env = {**os.environ, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url}
    env.pop("ANTHROPIC_AUTH_TOKEN", None)
    manager = KernelManager(kernel_name="conjure")
    manager.start_kernel(cwd=str(workdir), env=env)
    kernel = manager.client()
    kernel.start_channels()

    def run(code: str) -> float:
        return run_cell(kernel, code)

    def chat_cell() -> float:
        elapsed = run("hi")
        run("%reset")  # keep the conversation from growing; not timed
        return elapsed

    try:
        kernel.wait_for_ready(timeout=60)
        chat_cell()
        params, sdk = last_request(api), anthropic.Anthropic(api_key=KEY, base_url=api.url)
        run(
            "%%python\nimport anthropic, json\n_sdk = anthropic.Anthropic()\n"
            f"_params = json.loads({json.dumps(json.dumps(params))})\n"
            "def _turn():\n    with _sdk.messages.stream(**_params) as s:\n"
            "        for _ in s: pass\n        s.get_final_message()\n"
        )
        variants = {
            "conjure chat cell": chat_cell,
            "%%python cell, bare SDK": lambda: run("%%python\n_turn()"),
            "%%python cell, pass": lambda: run("%%python\npass"),
            "bare SDK, this process": clock(lambda: consume_stream(sdk, params)),
        }
        samples = interleave(variants, n)
        pairs = zip(samples["%%python cell, pass"], samples["bare SDK, this process"], strict=True)
        samples["pass cell + bare SDK (sum)"] = [a + b for a, b in pairs]
        return samples
    finally:
        kernel.stop_channels()
        manager.shutdown_kernel(now=True)


def bench_bash(n: int, workdir: Path) -> Samples:
    executor = WorkspaceTools(LocalWorkspace(workdir), timeout=60, max_output_chars=30_000)
    call = ToolCall("toolu_bench", "bash_tool", {"command": "true"})
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def tool_call() -> None:
        if (result := loop.run_until_complete(executor.run(call))).is_error:
            raise RuntimeError(result.content)

    def same_options() -> None:  # what the local workspace asks of the OS: pipes, new session, cwd
        subprocess.run(
            ["bash", "-c", "true"], capture_output=True, start_new_session=True, cwd=workdir
        )

    variants = {
        "local bash_tool": clock(tool_call),
        "subprocess.run": clock(lambda: subprocess.run(["bash", "-c", "true"])),
        "subprocess.run, same opts": clock(same_options),
    }
    try:
        return interleave(variants, n, warmup=10)
    finally:
        loop.close()


def make_skills(root: Path, count: int, body_kb: int) -> None:
    body = "Do the step, then check the result.\n" * 28 * body_kb  # about body_kb KB
    for i in range(count):
        (folder := root / f"skill-{i:04d}").mkdir(parents=True)
        (folder / "SKILL.md").write_text(
            f"---\nname: skill-{i:04d}\ndescription: Generated skill {i} for the discovery "
            f"benchmark. Use it never.\nlicense: MIT\n---\n\n# Instructions\n\n{body}"
        )


def bytes_read() -> int | None:
    """This process's bytes read by syscalls so far (Linux), to show bodies were skipped."""
    try:
        return int(Path("/proc/self/io").read_text().split("rchar:")[1].split()[0])
    except (OSError, IndexError, ValueError):
        return None


def bench_skills(n: int, root: Path, count: int) -> tuple[Samples, dict[str, Any]]:
    def walk() -> list[str]:
        return [os.path.join(d, "SKILL.md") for d, _, names in os.walk(root) if "SKILL.md" in names]

    def read_1kb() -> None:
        for path in walk():
            with open(path, "rb") as file:
                file.read(1024)

    before, found, after = bytes_read(), find_skills([root]), bytes_read()
    if len(found.skills) != count or found.problems:
        raise RuntimeError(f"expected {count} clean skills: {found.problems[:3]}")
    check = {
        "bodies_read": sum("body" in skill.__dict__ for skill in found.skills),
        "kb_read_per_skill": None if None in (before, after) else (after - before) / 1024 / count,
    }
    variants = {
        "find_skills": clock(lambda: find_skills([root])),
        "os.walk only": clock(walk),
        "os.walk + read 1 KB each": clock(read_1kb),
    }
    return interleave(variants, n, warmup=1), check


COMPARISONS = [  # (name, section, measured variant, its baseline)
    ("library turn", "turn, library", "conjure Session.chat_sync", "bare SDK, same request"),
    ("kernel turn", "turn, kernel", "conjure chat cell", "pass cell + bare SDK (sum)"),
    ("kernel turn vs SDK cell", "turn, kernel", "conjure chat cell", "%%python cell, bare SDK"),
    ("bash_tool", "bash_tool true", "local bash_tool", "subprocess.run"),
    (
        "bash_tool vs same opts",
        "bash_tool true",
        "local bash_tool",
        "subprocess.run, same opts",
    ),
    ("skills vs walk", "skills", "find_skills", "os.walk only"),
    ("skills vs 1 KB reads", "skills", "find_skills", "os.walk + read 1 KB each"),
]


def report(
    args: argparse.Namespace, sections: dict[str, Samples], check: dict[str, Any]
) -> dict[str, Any]:
    lines = [f"{'section':<15} {'variant':<30} {'median ms':>10} {'p90 ms':>9} {'n':>5}"]
    stats: dict[str, dict[str, dict[str, float]]] = {}
    for section, rows in sections.items():
        for name, x in rows.items():
            median, p90 = statistics.median(x) * 1e3, statistics.quantiles(x, n=10)[-1] * 1e3
            stats.setdefault(section, {})[name] = {"median_ms": median, "p90_ms": p90, "n": len(x)}
            lines.append(f"{section:<15} {name:<30} {median:>10.2f} {p90:>9.2f} {len(x):>5}")
    vs = {n: compare(sections[sec], a, b) for n, sec, a, b in COMPARISONS if sec in sections}
    lines.append(f"\n{'comparison':<27} {'adds ms (median of pairs)':>26} {'ratio of medians':>17}")
    lines += [f"{n:<27} {r['adds_ms']:>+26.2f} {r['ratio']:>16.2f}x" for n, r in vs.items()]
    summary = {
        "kernel_adds_ms_per_turn": vs.get("kernel turn", {}).get("adds_ms"),
        "library_adds_ms_per_turn": vs["library turn"]["adds_ms"],
        "local_backend_adds_ms": vs["bash_tool"]["adds_ms"],
        "skills_load_s": stats["skills"]["find_skills"]["median_ms"] / 1e3,
    }
    where = "kernel" if "kernel turn" in vs else "library"
    lines += [
        f"\ndiscovery check: {check}\n{BASELINES}\n\nsummary",
        f"  {where} adds {vs[where + ' turn']['adds_ms']:.1f} ms per turn (aim < 5 ms); "
        f"the library path alone adds {summary['library_adds_ms_per_turn']:.1f} ms",
        f"  local backend adds {summary['local_backend_adds_ms']:.2f} ms (aim < 3 ms)",
        f"  {args.skills:,} skills load in {summary['skills_load_s']:.3f} s (aim < 0.3 s); "
        f"bodies read: {check['bodies_read']}",
    ]
    print("\n".join(lines))
    return {"summary": summary, "comparisons": vs, "stats": stats, "discovery_check": check}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=100, help="repetitions per chat variant")
    parser.add_argument("--calls", type=int, default=500, help="repetitions per bash variant")
    parser.add_argument("--loads", type=int, default=25, help="repetitions per discovery variant")
    parser.add_argument("--latency", type=float, default=0.02, help="fake API latency (s)")
    parser.add_argument("--skills", type=int, default=1000)
    parser.add_argument("--body-kb", type=int, default=50)
    parser.add_argument("--no-kernel", action="store_true", help="skip the real-kernel part")
    args = parser.parse_args()
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="conjure-bench-"))
    sections: dict[str, Samples] = {}
    try:
        with FakeMessagesAPI(latency=args.latency) as api:
            api.responder = lambda body: replies.text("ok")
            sections["turn, library"] = bench_library(api, args.turns, scratch)
            if not args.no_kernel:
                sections["turn, kernel"] = bench_kernel(api, args.turns, scratch)
        sections["bash_tool true"] = bench_bash(args.calls, scratch)
        make_skills(scratch / "skills", args.skills, args.body_kb)
        sections["skills"], check = bench_skills(args.loads, scratch / "skills", args.skills)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    results = report(args, sections, check)
    elapsed = time.perf_counter() - started
    out = REPO / "benchmarks" / "results" / "latest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    facts = {"args": vars(args), "python": sys.version.split()[0], "cpus": os.cpu_count()}
    out.write_text(json.dumps({**facts, "seconds": elapsed, **results}, indent=2) + "\n")
    print(f"  the benchmark took {elapsed:.0f} s; wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
