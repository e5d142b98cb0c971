"""The JupyterLab renderer (labextension/) agrees with the kernel and is installed.

The renderer's TypeScript is exercised in a real browser by tests/ui; these checks are
the cheap ones: the MIME type is spelt the same on both sides, the renderer outranks the
bundle's text/html fallback, and ``pip install`` put the built extension where
JupyterLab looks for it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from conjure_kernel.notebook.display import TURN_MIME_TYPE

LABEXTENSION = Path(__file__).resolve().parents[2] / "labextension"
INDEX_TS = LABEXTENSION / "src" / "index.ts"
INSTALLED = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "conjure-kernel"
HOW_TO_BUILD = "build and install it with: pip install -e '.[test]'"


def _source() -> str:
    return INDEX_TS.read_text(encoding="utf-8")


def test_typescript_mime_type_matches_python() -> None:
    found = re.findall(r"^export const TURN_MIME_TYPE = '([^']+)';$", _source(), re.M)
    assert found == [TURN_MIME_TYPE]


def test_renderer_is_safe_json_and_outranks_the_html_fallback() -> None:
    # Lower rank wins; text/html has rank 50, so a rank of 50 or more would leave the
    # fallback showing.
    source = _source()
    assert re.search(r"^\s*rank: 0,?$", source, re.M)
    assert re.search(r"^\s*dataType: 'json',?$", source, re.M)
    assert re.search(r"^\s*safe: true,?$", source, re.M)
    assert "id: 'conjure-kernel:turn-renderer'" in source


def test_built_extension_is_installed_with_its_install_json() -> None:
    package = INSTALLED / "package.json"
    assert package.is_file(), f"{package} is missing; {HOW_TO_BUILD}"
    meta = json.loads(package.read_text(encoding="utf-8"))
    assert meta["name"] == "conjure-kernel"
    assert meta["jupyterlab"]["mimeExtension"]
    assert (INSTALLED / meta["jupyterlab"]["_build"]["load"]).is_file()
    install = json.loads((INSTALLED / "install.json").read_text(encoding="utf-8"))
    assert install["packageName"] == "conjure_kernel"


def test_jupyter_lists_the_extension_as_enabled_and_ok() -> None:
    listing = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)
    assert re.search(r"conjure-kernel v\S+ enabled OK", text), f"{HOW_TO_BUILD}\n{text}"
