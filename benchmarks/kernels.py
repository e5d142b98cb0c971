"""Throwaway kernelspecs for benchmarks: this checkout's conjure kernel, python3, or another checkout's.

``python -m conjure_kernel`` started from inside a checkout imports that checkout
whatever PYTHONPATH says, so every kernel here starts in the specs' own folder.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

__all__ = ["kernel_specs", "run_cell", "start_kernel"]


def kernel_specs(before: Path | None = None) -> KernelSpecManager:
    """Specs named ``python3`` and ``conjure``, plus ``before`` (conjure from ``before``)."""
    python = sys.executable
    specs = {
        "python3": ([python, "-m", "ipykernel_launcher", "-f", "{connection_file}"], {}),
        "conjure": ([python, "-m", "conjure_kernel", "-f", "{connection_file}"], {}),
    }
    if before is not None:
        if not (before / "conjure_kernel" / "__init__.py").is_file():
            raise SystemExit(f"{before} holds no conjure_kernel package to compare with")
        specs["before"] = (specs["conjure"][0], {"PYTHONPATH": str(before.resolve())})
    folder = Path(tempfile.mkdtemp(prefix="conjure-bench-kernels-"))
    for name, (argv, env) in specs.items():
        (folder / name).mkdir()
        spec = {"argv": argv, "display_name": name, "language": "python", "env": env}
        (folder / name / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(folder)])


def start_kernel(
    specs: KernelSpecManager, name: str, env: dict[str, str] | None = None
) -> KernelManager:
    """Start kernel ``name`` from ``specs`` in the specs' folder; the caller shuts it down."""
    manager = KernelManager(kernel_name=name, kernel_spec_manager=specs)
    options = {"env": env} if env is not None else {}  # jupyter_client wants a dict or nothing
    manager.start_kernel(cwd=specs.kernel_dirs[0], **options)
    return manager


def run_cell(client: BlockingKernelClient, code: str) -> float:
    """Run ``code`` as a cell; seconds from the request to the kernel's idle status."""
    started = time.perf_counter()
    reply = client.execute_interactive(code, timeout=60, output_hook=lambda msg: None)
    elapsed = time.perf_counter() - started
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"cell {code[:30]!r} failed: {reply['content'].get('evalue')}")
    return elapsed
