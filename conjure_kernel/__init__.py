"""conjure-kernel: chat with Claude and Agent Skills from Jupyter.

The library below the notebook layer imports no IPython, so it serves plain scripts:

    from conjure_kernel import Session, find_skills
    from conjure_kernel.clients.anthropic_client import AnthropicClient

Names are imported lazily, keeping ``import conjure_kernel`` (and kernel start) cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ._version import __version__

__all__ = [
    "NativeSkill",
    "Session",
    "Skill",
    "__version__",
    "find_skills",
    "load_ipython_extension",
    "load_skill",
    "unload_ipython_extension",
]

_LAZY = {
    "NativeSkill": "conjure_kernel.backends.native",
    "Session": "conjure_kernel.conversation.session",
    "Skill": "conjure_kernel.skills.skill",
    "find_skills": "conjure_kernel.skills.discovery",
    "load_skill": "conjure_kernel.skills.discovery",
    "load_ipython_extension": "conjure_kernel.notebook.extension",
    "unload_ipython_extension": "conjure_kernel.notebook.extension",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'conjure_kernel' has no attribute {name!r}")


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "conjure-kernel"}]
