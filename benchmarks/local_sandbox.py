"""What the local backend's bubblewrap sandbox costs a command, measured side by side.

A ``bash_tool`` call of ``true`` through the local backend's ``WorkspaceTools``, in a
session opened with the default settings (sandbox on: bwrap, a fresh PID namespace and
/proc, no network, the mounts and masks) against one opened with ``sandbox=off`` (bash
straight on the host), in the same folder. Also bwrap alone (``bwrap <the session's
options> -- true`` with ``subprocess.run``) against ``bash -c true``: what bwrap itself
takes to set up and tear down, without the backend's code around it.

Variants run interleaved after a warm-up (``run.py``'s helpers). No assertions on time;
the aim is a difference within 10 ms.

    .venv/bin/python benchmarks/local_sandbox.py [-n 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCHMARKS]
from conjure_kernel.backends.base import SessionOptions  # noqa: E402
from conjure_kernel.backends.local import LocalBackend, LocalSession  # noqa: E402
from conjure_kernel.backends.local_settings import LocalSettings  # noqa: E402
from conjure_kernel.tools.values import ToolCall  # noqa: E402

sys.path.append(str(BENCHMARKS))
from run import clock, compare, interleave  # noqa: E402


def bwrap_alone(session: LocalSession) -> list[str]:
    """The session's own bwrap command line, running ``true`` instead of the wrapper."""
    assert session.sandbox is not None
    argv = session.sandbox.argv("true", 0)
    return [*argv[: argv.index("--")], "--", "true"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="calls per variant")
    args = parser.parse_args()
    loop = asyncio.new_event_loop()
    backend = LocalBackend()
    with tempfile.TemporaryDirectory(prefix="conjure-bench-") as folder:

        def open_session(sandbox: str) -> LocalSession:
            options = SessionOptions(LocalSettings.parse({"workdir": folder, "sandbox": sandbox}))
            return loop.run_until_complete(backend.open_session([], options))

        sessions = {"sandbox=on": open_session("on"), "sandbox=off": open_session("off")}

        def call(session: LocalSession) -> None:
            run = session.executor.run(ToolCall("toolu_bench", "bash_tool", {"command": "true"}))
            result = loop.run_until_complete(run)
            assert not result.is_error, result.content

        bare = bwrap_alone(sessions["sandbox=on"])
        variants = {
            f"bash_tool true, {name}": clock(lambda s=session: call(s))
            for name, session in sessions.items()
        }
        variants["bwrap … true"] = clock(lambda: subprocess.run(bare, check=True))
        variants["bash -c true"] = clock(lambda: subprocess.run(["bash", "-c", "true"], check=True))
        try:
            samples = interleave(variants, args.n)
        finally:
            for session in sessions.values():
                loop.run_until_complete(backend.close(session))
            loop.close()
    for name, values in samples.items():
        print(f"  {name:<28} median {statistics.median(values) * 1e3:7.2f} ms")
    for new, old in [
        ("bash_tool true, sandbox=on", "bash_tool true, sandbox=off"),
        ("bwrap … true", "bash -c true"),
    ]:
        figures = compare(samples, new, old)
        print(f"  {new} vs {old}: adds {figures['adds_ms']:+.2f} ms ({figures['ratio']:.1f}x)")


if __name__ == "__main__":
    main()
