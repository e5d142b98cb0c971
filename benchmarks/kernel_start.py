"""How long a ``conjure`` kernel takes to start, and what it holds, next to a ``python3`` kernel.

Both kernels run from this environment's interpreter and are started in turn (A B, B A,
…) so that machine noise hits each alike. Measured per start: seconds from launching the
process until it answers ``kernel_info``, and the kernel process's resident memory
(RSS) at that moment. ``--before PATH`` adds a third kernel: ``conjure_kernel`` imported
from another checkout (``git worktree add PATH REV``), to compare a change side by side.

    .venv/bin/python benchmarks/kernel_start.py [--starts 10] [--before /tmp/before]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import psutil
from jupyter_client.kernelspec import KernelSpecManager
from kernels import kernel_specs, start_kernel


def start_once(specs: KernelSpecManager, name: str) -> tuple[float, float]:
    """Seconds to a ``kernel_info`` reply, and the kernel's RSS in MB then."""
    started = time.perf_counter()
    manager = start_kernel(specs, name)
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        elapsed = time.perf_counter() - started
        rss = psutil.Process(manager.provisioner.pid).memory_info().rss / 2**20
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return elapsed, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--starts", type=int, default=10, help="starts per kernel")
    parser.add_argument("--before", type=Path, help="a checkout whose conjure_kernel to compare")
    args = parser.parse_args()

    specs = kernel_specs(args.before)
    kernels = ["python3", "conjure"] + (["before"] if args.before else [])

    for name in kernels:  # warm the page cache and .pyc files
        start_once(specs, name)
    seconds: dict[str, list[float]] = {name: [] for name in kernels}
    memory: dict[str, list[float]] = {name: [] for name in kernels}
    for i in range(args.starts):
        for name in kernels[:: -1 if i % 2 else 1]:
            elapsed, rss = start_once(specs, name)
            seconds[name].append(elapsed)
            memory[name].append(rss)

    base_s = statistics.median(seconds["python3"])
    base_mb = statistics.median(memory["python3"])
    print(f"kernel start, {args.starts} interleaved starts each (median):")
    labels = {"before": f"conjure ({args.before})"} if args.before else {}
    print(f"{'kernel':<20}{'start s':>10}{'x python3':>11}{'RSS MB':>10}{'x python3':>11}")
    for name in kernels:
        s, mb = statistics.median(seconds[name]), statistics.median(memory[name])
        print(
            f"{labels.get(name, name):<20}{s:>10.3f}{s / base_s:>10.2f}x{mb:>10.1f}{mb / base_mb:>10.2f}x"
        )
    print("aim: conjure within 1.3x of python3 for both")


if __name__ == "__main__":
    main()
