"""The layers import one way only, read from the source, so a cycle cannot creep back in.

Order (each layer may import only the layers before it): errors, processes → tools, skills →
clients → events → mcp → backends → conversation → notebook. ``tools`` and ``skills`` share
a rank and do not import each other. IPython, ipykernel and ipywidgets appear only in
``notebook``, so the library serves plain scripts. The entry modules (the package's
``__init__``, ``__main__`` and ``cli``) sit above every layer.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "conjure_kernel"
RANKS = {
    "_version": 0,
    "errors": 0,
    "processes": 0,
    "tools": 1,
    "skills": 1,
    "clients": 2,
    "events": 3,
    "mcp": 4,
    "backends": 5,
    "conversation": 6,
    "doctor": 7,
    "notebook": 8,
}
ENTRY_MODULES = {"__init__", "__main__", "cli"}
NOTEBOOK_ONLY = {"IPython", "ipykernel", "ipywidgets"}


def layer_of(module: str) -> str:
    """``conjure_kernel.backends.local`` → ``backends``; ``conjure_kernel.events`` → ``events``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every imported module (line, absolute name), nested imports included."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if node.module is None or target == "conjure_kernel":
                found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, target))
    return found


def violations() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = module_name(path)
        layer = layer_of(source)
        if layer in ENTRY_MODULES:
            continue
        where = path.relative_to(PACKAGE.parent)
        for line, target in imports_of(path):
            top = target.split(".")[0]
            if top in NOTEBOOK_ONLY and layer != "notebook":
                problems.append(f"{where}:{line} imports {target}, which only notebook/ may use")
            if top != "conjure_kernel":
                continue
            imported = layer_of(target)
            if imported == layer:
                continue
            if imported in ENTRY_MODULES or RANKS[imported] >= RANKS[layer]:
                problems.append(
                    f"{where}:{line} imports {target}: layer {layer!r} may not import {imported!r}"
                )
    return problems


def test_every_module_imports_only_earlier_layers():
    assert violations() == []


def test_every_layer_is_ranked():
    layers = {layer_of(module_name(path)) for path in PACKAGE.rglob("*.py")}
    assert layers - ENTRY_MODULES <= set(RANKS)


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """Guards the check itself: a backend that imports the conversation layer is caught."""
    fake = tmp_path / "conjure_kernel"
    (fake / "backends").mkdir(parents=True)
    (fake / "backends" / "bad.py").write_text(
        "from ..conversation.session import Session\nimport IPython\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert violations() == [
        "conjure_kernel/backends/bad.py:1 imports conjure_kernel.conversation.session: "
        "layer 'backends' may not import 'conversation'",
        "conjure_kernel/backends/bad.py:2 imports IPython, which only notebook/ may use",
    ]


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


@pytest.mark.parametrize(
    "module",
    ["conjure_kernel.conversation.session", "conjure_kernel.backends.local"],
)
def test_the_library_runs_without_notebook_packages(module):
    """At run time too: nothing the library imports pulls IPython in behind the source's back."""
    assert NOTEBOOK_ONLY & loaded_after_importing([module]) == set()
