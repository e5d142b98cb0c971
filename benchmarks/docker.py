"""The docker backend next to driving the same engine by hand, measured side by side in one run.

(1) A ``bash_tool`` call of ``true`` through ``WorkspaceTools(DockerWorkspace)`` (one
    persistent shell over the exec socket) vs a ``docker exec`` subprocess and docker-py's
    ``exec_run`` on the same container; ``view`` of a small file in /workspace (read on
    the host) and in /tmp (two commands in the shell) vs the two execs it once took.
(2) A fresh session: from a new ``DockerWorkspace`` to the first ``echo hi`` result
    (container creation included), and closing it (removal), vs ``docker run --rm``.
(3) This process's peak RSS growth while a command prints 10 MB and 100 MB, each case in
    a fresh process, vs ``exec_run(demux=True)`` of the 10 MB (it buffers everything).

Variants run interleaved (ABC, CBA, ...) after a warm-up, as in ``run.py``, whose helpers
this reuses. Every container made carries this run's ``conjure.kernel`` label and is
removed at the end. No assertions on time.

    .venv/bin/python benchmarks/docker.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

BENCHMARKS = Path(__file__).resolve().parent
# this file is named like docker-py: keep its folder off the path until docker-py is imported
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCHMARKS]
import docker  # noqa: E402
import docker.errors  # noqa: E402

from conjure_kernel.backends.docker.backend import DockerBackend, sandbox_spec  # noqa: E402
from conjure_kernel.backends.docker.engine import connect, require_image  # noqa: E402
from conjure_kernel.backends.docker.sandbox_spec import SandboxSpec  # noqa: E402
from conjure_kernel.backends.docker.workspace import DockerWorkspace  # noqa: E402
from conjure_kernel.tools.values import ToolCall, ToolResult  # noqa: E402
from conjure_kernel.tools.workspace import WorkspaceTools  # noqa: E402

sys.path.append(str(BENCHMARKS))
from run import Samples, clock, compare, interleave  # noqa: E402

T = TypeVar("T")
KERNEL_LABEL = "conjure.kernel"
"""The backend's owner label: set to this run's tag, it finds every container the run made."""
LIMIT = 30_000  # characters of tool output, the kernel's default
PRINT = "head -c {size} /dev/zero | tr '\\0' a"
SMALL_FILE = "".join(f"line {n}: some text of a small file\n" for n in range(1, 41))
FIRST, CLOSE = "backend, new sandbox to 1st result", "backend, closing (removal)"
BOTH, RUN_RM = "backend, 1st result + closing", "`docker run --rm` echo hi"


def make_spec(workdir: Path, tag: str) -> SandboxSpec:
    """A spec with the backend's default limits, as ``%backend docker`` makes it."""
    return sandbox_spec(DockerBackend.settings_class(), workdir, kernel_id=tag)


class Bench:
    """One event loop, as in a kernel: every backend call runs on it, one at a time."""

    def __init__(self, client: docker.DockerClient, spec: SandboxSpec) -> None:
        self.client = client
        self.spec = spec
        self.loop = asyncio.new_event_loop()

    def wait(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)

    def tool(self, tools: WorkspaceTools, name: str, **arguments: Any) -> ToolResult:
        result = self.wait(tools.run(ToolCall("toolu_bench", name, arguments)))
        if result.is_error:
            raise RuntimeError(f"{name} {arguments} failed: {result.content[:300]}")
        return result

    def workspace(self) -> tuple[DockerWorkspace, WorkspaceTools]:
        workspace = DockerWorkspace(self.client, replace(self.spec, session=secrets.token_hex(6)))
        return workspace, WorkspaceTools(workspace, timeout=120, max_output_chars=LIMIT)


def bench_calls(bench: Bench, cli: str, n: int) -> Samples:
    """(1) One trivial command, and ``view`` of a small file, on one running sandbox."""
    workspace, tools = bench.workspace()
    try:
        for path in ("small.txt", "/tmp/small.txt"):
            bench.tool(tools, "create_file", path=path, file_text=SMALL_FILE)
        container = bench.client.containers.get(workspace.container)

        def two_execs() -> None:  # what view of /tmp took as one-shot execs: stat, then cat
            container.exec_run(["stat", "-L", "-c", "%F %s", "/tmp/small.txt"])
            container.exec_run(["cat", "/tmp/small.txt"])

        variants = {
            "backend bash_tool true": clock(lambda: bench.tool(tools, "bash_tool", command="true")),
            f"`{cli} exec` true": clock(
                lambda: subprocess.run([cli, "exec", workspace.container, "true"], check=True)
            ),
            "exec_run bash -c true": clock(lambda: container.exec_run(["bash", "-c", "true"])),
            "backend view /workspace file": clock(
                lambda: bench.tool(tools, "view", path="small.txt")
            ),
            "backend view /tmp file": clock(
                lambda: bench.tool(tools, "view", path="/tmp/small.txt")
            ),
            "exec_run stat + cat (2 execs)": clock(two_execs),
        }
        return interleave(variants, n, warmup=5)
    finally:
        bench.wait(workspace.aclose())


def bench_sessions(bench: Bench, cli: str, n: int) -> Samples:
    """(2) A new sandbox to the first result, its removal, and ``docker run --rm`` beside."""
    closes: list[float] = []

    def first_result() -> float:
        started = time.perf_counter()
        workspace, tools = bench.workspace()
        try:
            if bench.tool(tools, "bash_tool", command="echo hi").content.split()[0] != "hi":
                raise RuntimeError("echo hi did not answer hi")
            elapsed = time.perf_counter() - started
        finally:
            started = time.perf_counter()
            bench.wait(workspace.aclose())
            closes.append(time.perf_counter() - started)
        return elapsed

    label = f"{KERNEL_LABEL}={bench.spec.kernel_id}"
    command = [cli, "run", "--rm", "--network", "none", "--label", label, bench.spec.image]
    variants = {
        FIRST: first_result,
        RUN_RM: clock(
            lambda: subprocess.run([*command, "echo", "hi"], check=True, capture_output=True)
        ),
    }
    samples = interleave(variants, n, warmup=1)
    samples[CLOSE] = closes[-n:]
    samples[BOTH] = [a + b for a, b in zip(samples[FIRST], samples[CLOSE], strict=True)]
    return samples


def probe(kind: str, size: int, tag: str) -> None:
    """(3), in a fresh process: print as JSON how far this process's RSS rose while a
    command printed ``size`` bytes, read through the backend or ``exec_run``."""
    client = connect()
    workdir = Path(tempfile.mkdtemp(prefix="conjure-docker-bench-"))
    bench = Bench(client, make_spec(workdir, tag))
    workspace, tools = bench.workspace()
    command = PRINT.format(size=size)
    try:
        bench.tool(tools, "bash_tool", command="echo hi")  # container, shell, first calls
        container = client.containers.get(workspace.container)
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM starts again from VmRSS
        before = rss_kb("VmRSS")
        started = time.perf_counter()
        if kind == "backend":
            kept = len(bench.tool(tools, "bash_tool", command=command).content)
        else:
            _, (stdout, _) = container.exec_run(["bash", "-c", command], demux=True)
            kept = len(stdout or b"")
        seconds = time.perf_counter() - started
        grew = (rss_kb("VmHWM") - before) / 1024
    finally:
        bench.wait(workspace.aclose())
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps({"grew_mb": grew, "seconds": seconds, "kept": kept}))


def rss_kb(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split(f"{field}:")[1].split()[0])


def bench_memory(tag: str, reps: int) -> dict[str, list[dict[str, float]]]:
    """(3) Each case in a new process, so no earlier allocation hides or adds growth."""
    cases = {
        "backend bash_tool, 10 MB": ("backend", 10_000_000),
        "backend bash_tool, 100 MB": ("backend", 100_000_000),
        "exec_run demux=True, 10 MB": ("exec_run", 10_000_000),
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
    for i in range(reps):
        for name, (kind, size) in list(cases.items())[:: -1 if i % 2 else 1]:
            argv = [sys.executable, __file__, "--probe", kind, str(size), "--tag", tag]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                raise RuntimeError(f"the {name} probe failed:\n{done.stderr[-3000:]}")
            runs[name].append(json.loads(done.stdout.splitlines()[-1]))
    return runs


def remove_leftovers(client: docker.DockerClient, tag: str) -> list[str]:
    """Remove the containers of this run still on the engine (there should be none)."""
    left = client.containers.list(all=True, filters={"label": f"{KERNEL_LABEL}={tag}"})
    for container in left:
        try:
            container.remove(force=True)
        except docker.errors.NotFound:  # auto-removed meanwhile
            pass
        except docker.errors.APIError as error:
            if "already in progress" not in str(error):
                raise
    return [container.name for container in left]


def spread(values: list[float], scale: float = 1e3, digits: int = 2) -> str:
    """``median (min-max)`` of ``values`` times ``scale``."""
    low, mid, high = min(values) * scale, statistics.median(values) * scale, max(values) * scale
    return f"{mid:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def report(
    calls: Samples, sessions: Samples, memory: dict[str, list[dict[str, float]]], facts: str
) -> None:
    print(f"{'variant':<36}{'median (min-max)':>28}{'n':>5}")
    for title, samples, scale, unit in (
        ("1. one call on a running sandbox", calls, 1e3, "ms"),
        ("2. fresh session", sessions, 1.0, "s"),
    ):
        print(f"{title} ({unit})")
        for name, values in samples.items():
            print(
                f"  {name:<34}{spread(values, scale, 2 if unit == 'ms' else 3):>28}{len(values):>5}"
            )
    print("3. peak RSS growth of the reading process (MB); seconds; chars or bytes held")
    for name, runs in memory.items():
        grew = spread([r["grew_mb"] for r in runs], 1, 1)
        secs = statistics.median(r["seconds"] for r in runs)
        print(f"  {name:<34}{grew:>28}{len(runs):>5}   {secs:.2f} s  {runs[0]['kept']:,} held")

    names = list(calls)
    true, cli_exec, exec_run, view_ws, view_tmp, two_execs = names
    print(f"\n{'comparison (a / b)':<62}{'a - b, ms (median of pairs)':>28}{'ratio':>8}")
    for a, b in ((cli_exec, true), (exec_run, true), (two_execs, view_tmp), (view_tmp, view_ws)):
        result = compare(calls, a, b)
        print(f"{a + ' / ' + b:<62}{result['adds_ms']:>+28.2f}{result['ratio']:>7.1f}x")
    result = compare(sessions, BOTH, RUN_RM)
    print(f"{BOTH + ' / ' + RUN_RM:<62}{result['adds_ms']:>+28.2f}{result['ratio']:>7.2f}x")

    med = {name: statistics.median(values) * 1e3 for name, values in calls.items()}
    grew = {name: statistics.median(r["grew_mb"] for r in runs) for name, runs in memory.items()}
    g10, g100, gexec = grew.values()
    print(
        f"\nfigures ({facts})\n"
        f"  bash_tool `true` through the backend: {spread(calls[true])} ms; "
        f"{med[cli_exec] / med[true]:.0f}x faster than `docker exec` ({med[cli_exec]:.1f} ms), "
        f"{med[exec_run] / med[true]:.0f}x than exec_run ({med[exec_run]:.1f} ms) "
        "(aim < 5 ms and >= 10x)\n"
        f"  view of a small file: /workspace {med[view_ws]:.2f} ms (host read), /tmp "
        f"{med[view_tmp]:.2f} ms (2 shell commands) vs {med[two_execs]:.1f} ms as 2 execs\n"
        f"  fresh session to first result: {spread(sessions[FIRST], 1, 3)} s (aim < 1 s), "
        f"closing {statistics.median(sessions[CLOSE]):.3f} s; "
        f"`docker run --rm echo hi` {statistics.median(sessions[RUN_RM]):.3f} s\n"
        f"  kernel peak RSS growth: +{g10:.1f} MB for 10 MB of output, +{g100:.1f} MB for 100 MB "
        f"({'flat' if g100 - g10 < 9 else 'NOT flat'}: only head and tail are kept); "
        f"exec_run(demux=True) of 10 MB: +{gexec:.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (~20 s)")
    parser.add_argument("--calls", type=int, default=100, help="repetitions per call variant")
    parser.add_argument("--sessions", type=int, default=10, help="fresh sessions per variant")
    parser.add_argument("--memory-reps", type=int, default=3, help="processes per memory case")
    parser.add_argument("--cli", default=shutil.which("docker") or "docker", help="docker CLI")
    parser.add_argument("--probe", nargs=2, metavar=("KIND", "BYTES"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--tag", default=f"bench-docker-{secrets.token_hex(4)}", help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.probe:
        probe(args.probe[0], int(args.probe[1]), args.tag)
        return
    if args.quick:
        args.calls, args.sessions, args.memory_reps = 20, 3, 1
    started = time.perf_counter()
    client = connect()
    image = make_spec(Path(), args.tag).image
    require_image(client, image)
    cli_version = subprocess.run(
        [args.cli, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True
    ).stdout.strip()
    workdir = Path(tempfile.mkdtemp(prefix="conjure-docker-bench-"))
    bench = Bench(client, make_spec(workdir, args.tag))
    try:
        calls = bench_calls(bench, args.cli, args.calls)
        sessions = bench_sessions(bench, args.cli, args.sessions)
        memory = bench_memory(args.tag, args.memory_reps)
    finally:
        bench.loop.close()
        left = remove_leftovers(client, args.tag)
        shutil.rmtree(workdir, ignore_errors=True)
    facts = (
        f"{time.strftime('%Y-%m-%d')}, image {image}, engine {client.version()['Version']}, "
        f"CLI {args.cli} {cli_version}, {len(calls[next(iter(calls))])} calls, "
        f"{args.sessions} sessions, {args.memory_reps} processes per memory case"
    )
    report(calls, sessions, memory, facts)
    print(
        f"  left behind: {left or 'nothing'}; the benchmark took {time.perf_counter() - started:.0f} s"
    )
    client.close()


if __name__ == "__main__":
    main()
