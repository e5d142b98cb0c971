"""What the race-free file path costs, measured side by side in one run.

``view`` of a small file in /workspace and ``create_file`` of one, through
``WorkspaceTools(DockerWorkspace)`` on a real engine, with the host-side file access as
it is now (``tools.confined``: a walk from a directory handle, no-follow opens) against
the check-then-open it replaced (``realpath`` of the host path, a prefix check, then an
open by name, as the workspace did before; racy, kept here only as the yardstick).
The same pair for the local workspace, whole host vs a sandbox's mount table.

Variants run interleaved after a warm-up (``run.py``'s helpers). No assertions on time.

    .venv/bin/python benchmarks/file_tools.py [-n 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCHMARKS]
import docker  # noqa: E402

from conjure_kernel.backends.docker.backend import DockerBackend, sandbox_spec  # noqa: E402
from conjure_kernel.backends.docker.workspace import DockerWorkspace  # noqa: E402
from conjure_kernel.backends.local_workspace import LocalWorkspace  # noqa: E402
from conjure_kernel.tools.call_watch import UNWATCHED, CallWatch  # noqa: E402
from conjure_kernel.tools.confined import Mount  # noqa: E402
from conjure_kernel.tools.values import ToolCall  # noqa: E402
from conjure_kernel.tools.workspace import PathInfo, WorkspaceTools  # noqa: E402

sys.path.append(str(BENCHMARKS))
from run import clock, compare, interleave  # noqa: E402

SMALL_FILE = "".join(f"line {n}: some text of a small file\n" for n in range(1, 41))


class CheckThenOpen:
    """The host file access the workspaces had before: resolve, check the prefix, then
    open by name (following links). Only reads and writes in one folder are needed here."""

    def __init__(self, inner, root: Path, prefix: str) -> None:
        self.inner, self.root, self.prefix = inner, root, prefix

    def resolve(self, path: str) -> str:
        return self.inner.resolve(path)

    def _host(self, path: str) -> str:
        host = os.path.join(self.root, os.path.relpath(self.resolve(path), self.prefix))
        if not os.path.realpath(host).startswith(os.path.realpath(self.root) + "/"):
            raise OSError("outside")
        return host

    async def stat(self, path: str, *, watch: CallWatch = UNWATCHED) -> PathInfo:
        info = os.stat(self._host(path))
        return PathInfo("file", info.st_size)

    async def read(
        self, path: str, start: int = 0, end: int | None = None, *, watch: CallWatch = UNWATCHED
    ) -> bytes:
        with open(self._host(path), "rb") as file:
            file.seek(start)
            return file.read(-1 if end is None else end - start)

    async def write(self, path: str, data: bytes, *, watch: CallWatch = UNWATCHED) -> bool:
        target = Path(self._host(path))
        existed = target.exists()
        target.write_bytes(data)
        return existed


def measure(tools: dict[str, WorkspaceTools], n: int) -> dict[str, list[float]]:
    loop = asyncio.new_event_loop()

    def call(executor: WorkspaceTools, name: str, arguments: dict) -> None:
        result = loop.run_until_complete(executor.run(ToolCall("toolu_bench", name, arguments)))
        assert not result.is_error, result.content

    variants = {}
    for label, executor in tools.items():
        view = {"path": "small.txt"}
        create = {"path": "made.txt", "file_text": SMALL_FILE}
        variants[f"view, {label}"] = clock(lambda e=executor, a=view: call(e, "view", a))
        variants[f"create_file, {label}"] = clock(
            lambda e=executor, a=create: call(e, "create_file", a)
        )
    try:
        return interleave(variants, n)
    finally:
        loop.close()


def report(samples: dict[str, list[float]], pairs: list[tuple[str, str]]) -> None:
    for name, values in samples.items():
        print(f"  {name:<44} median {statistics.median(values) * 1e3:7.3f} ms")
    for new, old in pairs:
        figures = compare(samples, new, old)
        print(
            f"  {new} vs {old}: {figures['ratio']:.2f}x "
            f"(adds {figures['adds_ms'] * 1e3:+.1f} µs per call)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="calls per variant")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="conjure-bench-") as folder:
        workdir = Path(folder)
        (workdir / "small.txt").write_text(SMALL_FILE)
        client = docker.from_env()
        spec = sandbox_spec(DockerBackend.settings_class(), workdir, kernel_id="bench")
        sandbox = DockerWorkspace(client, spec)
        local = LocalWorkspace(workdir)
        sandboxed = LocalWorkspace(
            workdir, mounts=[Mount("/", Path("/")), Mount(str(workdir), workdir, True)]
        )

        def executor(workspace) -> WorkspaceTools:
            return WorkspaceTools(workspace, timeout=60, max_output_chars=30_000)

        tools = {
            "docker, confined": executor(sandbox),
            "docker, check-then-open": executor(CheckThenOpen(sandbox, workdir, "/workspace")),
            "local sandbox, confined": executor(sandboxed),
            "local, whole host": executor(local),
            "local, check-then-open": executor(CheckThenOpen(local, workdir, str(workdir))),
        }
        print(f"file tools, {args.n} calls per variant, interleaved:")
        samples = measure(tools, args.n)
        pairs = [
            (f"{tool}, {new}", f"{tool}, {old}")
            for tool in ("view", "create_file")
            for new, old in (
                ("docker, confined", "docker, check-then-open"),
                ("local sandbox, confined", "local, check-then-open"),
                ("local, whole host", "local, check-then-open"),
            )
        ]
        report(samples, pairs)
        client.close()


if __name__ == "__main__":
    main()
