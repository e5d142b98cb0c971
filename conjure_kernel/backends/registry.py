"""Find backends by name through the ``conjure_kernel.backends`` entry-point group.

Entry points are the only source: third-party backends register the same way the
built-in ones do, and nothing here globs files or edits ``sys.path``.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from ..errors import BackendError, UnknownBackend
from .base import Backend

__all__ = ["ENTRY_POINT_GROUP", "backend_names", "get_backend"]

ENTRY_POINT_GROUP = "conjure_kernel.backends"


def backend_names() -> list[str]:
    """Every registered backend name, sorted."""
    return sorted({entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)})


def get_backend(name: str) -> Backend:
    """Import the backend registered as ``name`` and create it with no arguments."""
    matches = entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not matches:
        raise UnknownBackend(name, backend_names())
    entry = next(iter(matches))
    try:
        backend_class = entry.load()
    except Exception as error:  # a broken plug-in must not look like a conjure bug
        raise _import_failure(entry, error) from error
    declared = getattr(backend_class, "backend_type", None)
    if declared != entry.name:
        raise BackendError(
            f"backend {entry.name!r} ({entry.value}) calls itself {declared!r}; "
            "a backend's entry-point name and its backend_type must be the same",
            hint="rename the entry point or the class's backend_type so they agree",
        )
    return backend_class()


def _import_failure(entry: EntryPoint, error: Exception) -> BackendError:
    distribution = entry.dist.name if entry.dist is not None else "an unknown distribution"
    return BackendError(
        f"backend {entry.name!r} from {distribution} ({entry.value}) failed to import: "
        f"{type(error).__name__}: {error}",
        hint=f"reinstall or fix {distribution}, or choose another backend",
    )
