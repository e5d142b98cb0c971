"""The JupyterLab renderer draws every golden record as the Python renderings do.

The checks themselves are JavaScript (``turn_view.test.mjs``, Node's test runner with
jsdom): they run the compiled renderer, ``labextension/lib/turnView.js``, on each
record in tests/golden and compare its visible text with the Python plain rendering.
This runs them, so ``pytest tests/labextension`` covers both sides.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

LABEXTENSION = Path(__file__).resolve().parents[2] / "labextension"
NODE_TEST = Path(__file__).with_name("turn_view.test.mjs")
HOW_TO_BUILD = "build it with: pip install -e '.[test]' (or cd labextension && jlpm build)"


def test_the_compiled_renderer_agrees_with_the_golden_renderings() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the labextension cannot be built without it either")
    compiled = LABEXTENSION / "lib" / "turnView.js"
    source = LABEXTENSION / "src" / "turnView.ts"
    assert compiled.is_file(), f"{compiled} is missing; {HOW_TO_BUILD}"
    assert compiled.stat().st_mtime >= source.stat().st_mtime, (
        f"{compiled} is older than {source.name}; {HOW_TO_BUILD}"
    )
    assert (LABEXTENSION / "node_modules" / "jsdom").is_dir(), f"jsdom is missing; {HOW_TO_BUILD}"
    done = subprocess.run(
        [node, "--disable-warning=MODULE_TYPELESS_PACKAGE_JSON", "--test", str(NODE_TEST)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-4000:]
    assert "# fail 0" in done.stdout and "# pass 0" not in done.stdout
