"""The library below the notebook layer imports no IPython, so plain scripts can use it."""

from __future__ import annotations

import json
import subprocess
import sys

LIBRARY = [
    "conjure_kernel",
    "conjure_kernel.conversation.session",
    "conjure_kernel.backends.local",
    "conjure_kernel.backends.native",
    "conjure_kernel.clients.anthropic_client",
    "conjure_kernel.clients.replay_client",
    "conjure_kernel.skills.discovery",
]
NOTEBOOK_ONLY = ["IPython", "ipykernel", "ipywidgets"]


def loaded_after_importing(modules: list[str]) -> set[str]:
    """The top-level packages a fresh interpreter holds after importing ``modules``."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(done.stdout))


def test_the_library_imports_no_notebook_packages():
    loaded = loaded_after_importing(LIBRARY)
    assert set(NOTEBOOK_ONLY) & loaded == set()
    assert {"conjure_kernel", "anthropic"} <= loaded


def test_the_check_sees_notebook_packages_when_they_are_imported():
    """Guards the test above against a probe that could never see IPython."""
    loaded = loaded_after_importing(["conjure_kernel.notebook.display"])
    assert "IPython" in loaded
