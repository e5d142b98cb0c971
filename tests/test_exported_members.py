"""Public names: ``conjure_kernel.__all__`` resolves, and every module declares its own."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import conjure_kernel

PACKAGE = Path(conjure_kernel.__file__).parent
NO_ALL = {
    "conjure_kernel.__main__": "a script: running it launches the kernel or the CLI",
    "conjure_kernel._version": "private; its one name is re-exported by the package",
}


def module_names() -> list[str]:
    """Every module under the package, including folders without ``__init__.py``."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
            if not path.read_text(encoding="utf-8").strip():
                continue  # an empty package marker defines nothing
        names.append(".".join(parts))
    return names


MODULES = module_names()


def test_module_discovery_finds_every_layer():
    found = {name.split(".")[1] for name in MODULES if "." in name}
    assert {"backends", "clients", "conversation", "notebook", "skills", "tools"} <= found
    assert "conjure_kernel.notebook.magics" in MODULES


@pytest.mark.parametrize("name", conjure_kernel.__all__)
def test_every_name_in_the_package_all_resolves(name):
    assert getattr(conjure_kernel, name) is not None


def test_an_unknown_package_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        conjure_kernel.Nope  # noqa: B018


@pytest.mark.parametrize("name", [m for m in MODULES if m not in NO_ALL])
def test_every_module_declares_all_and_defines_each_name(name):
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, (list, tuple)) and exported, f"{name} has no __all__"
    missing = [member for member in exported if not hasattr(module, member)]
    assert missing == []
    assert len(set(exported)) == len(exported)
