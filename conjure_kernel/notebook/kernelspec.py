"""Install the ``conjure`` kernelspec, as ``python -m ipykernel install`` does for python3."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from importlib.resources import files
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager

__all__ = ["KERNEL_NAME", "NOTEBOOK_KERNELSPEC", "install_kernelspec", "kernel_json"]

KERNEL_NAME = "conjure"
DISPLAY_NAME = "Conjure (Claude)"
NOTEBOOK_KERNELSPEC = {"name": KERNEL_NAME, "display_name": DISPLAY_NAME, "language": "conjure"}
"""The ``kernelspec`` metadata of a notebook that runs in this kernel."""


def kernel_json() -> dict[str, object]:
    """The kernelspec. ``supported_encryption`` lets a frontend configured with
    ``KernelManager.transport_encryption = "auto"`` give the kernel CurveZMQ keys, as
    ipykernel's own kernelspec does; ``debugger`` false keeps JupyterLab's debugger off."""
    return {
        "argv": [sys.executable, "-m", "conjure_kernel", "kernel", "-f", "{connection_file}"],
        "display_name": DISPLAY_NAME,
        "language": "conjure",
        "interrupt_mode": "signal",
        "metadata": {"debugger": False, "supported_encryption": ["curve"]},
    }


def install_kernelspec(*, user: bool = False, prefix: str | None = None) -> str:
    """Write kernel.json and the logos to a temporary folder and let jupyter_client install it."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "kernel.json").write_text(json.dumps(kernel_json(), indent=1))
        for logo in files("conjure_kernel.notebook").joinpath("resources").iterdir():
            with logo.open("rb") as source, open(Path(folder) / logo.name, "wb") as target:
                shutil.copyfileobj(source, target)
        return KernelSpecManager().install_kernel_spec(
            folder, KERNEL_NAME, user=user, prefix=prefix
        )
