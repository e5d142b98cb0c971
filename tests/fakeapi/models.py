"""The fake API's Models API: ``GET /v1/models`` (paged) and ``GET /v1/models/{id}``.

Served as the SDK reads it (``anthropic.types.ModelInfo`` in an ``AsyncPage``): a page
is ``data``, ``has_more``, ``first_id`` and ``last_id``, newest first; ``limit``
(default 20, at most ``page_limit``), ``after_id`` and ``before_id`` page through it;
``lifecycle[]`` filters it, and without one retired models are left out, as the API
leaves them out. A Messages API request that names a retired model is answered 404
``not_found_error``, the API's answer to a model it no longer serves.

``api.models.models`` is the list; tests add to it with ``model_info(...)`` or change it.
What it lists is what the Messages API holds a request to (``today.TodayRules``): the
window is ``max_input_tokens``, and each ``supported: false`` in ``capabilities`` is a
400 for a request that uses that feature. Claude Opus 5.5 lists ``thinking.types.disabled``
unsupported: it always thinks.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from .hosted import Served
from .replies import ErrorReply

__all__ = ["DEFAULT_WINDOW", "ModelsState", "base_id", "capabilities", "model_info"]

_MAX_LIMIT = 1000
_DEFAULT_LIFECYCLES = ("active", "deprecated")
_DATE_SUFFIX = re.compile(r"-\d{8}$")
DEFAULT_WINDOW = 1_000_000
"""The context window of a model the list lacks."""


def base_id(model: str) -> str:
    """``claude-opus-5-5`` for ``claude-opus-5-5-20260922``: the id without its date."""
    return _DATE_SUFFIX.sub("", model)


def capabilities(
    *, thinking: bool = True, effort: bool = True, editing: bool = True, thinking_off: bool = True
) -> dict:
    """The whole capability tree the API gives every model, ``supported`` at each leaf.

    ``thinking_off=False`` is a model that always thinks (``{"type": "disabled"}`` is a 400).
    """

    def support(flag: bool) -> dict[str, bool]:
        return {"supported": flag}

    return {
        "batch": support(True),
        "citations": support(True),
        "code_execution": support(True),
        "context_management": {
            "supported": editing,
            "clear_thinking_20251015": support(editing),
            "clear_tool_uses_20250919": support(editing),
            "compact_20260112": support(editing),
        },
        "effort": {
            "supported": effort,
            **{level: support(effort) for level in ("low", "medium", "high", "xhigh", "max")},
        },
        "image_input": support(True),
        "pdf_input": support(True),
        "server_tools": {
            "supported": True,
            "code_execution": support(True),
            "web_search": support(True),
        },
        "structured_outputs": support(True),
        "thinking": {
            "supported": thinking,
            "types": {
                "adaptive": support(thinking),
                "enabled": support(False),
                "disabled": support(thinking_off or not thinking),
                "between_tools": support(True),
            },
        },
    }


def model_info(
    model_id: str,
    display_name: str,
    *,
    line: str | None = None,
    lifecycle: str = "active",
    context: int | None = 1_000_000,
    released: str = "2026-10-01",
    retires: str | None = None,
    caps: dict | None = None,
) -> dict[str, Any]:
    """One ``ModelInfo`` as the API sends it."""
    return {
        "type": "model",
        "id": model_id,
        "display_name": display_name,
        "created_at": f"{released}T00:00:00Z",
        "lifecycle": lifecycle,
        "line": line,
        "max_input_tokens": context,
        "max_tokens": 128_000,
        "deprecated_at": None if lifecycle == "active" else "2026-06-01T00:00:00Z",
        "retires_at": f"{retires}T00:00:00Z" if retires else None,
        "capabilities": capabilities() if caps is None else caps,
    }


def default_models() -> list[dict[str, Any]]:
    """A short list in the API's shape: three current models, one deprecated, one retired."""
    return [
        model_info("claude-sonnet-5-5", "Claude Sonnet 5.5", line="sonnet", released="2026-11-02"),
        model_info(
            "claude-opus-5-5",
            "Claude Opus 5.5",
            line="opus",
            released="2026-09-22",
            caps=capabilities(thinking_off=False),
        ),
        model_info(
            "claude-haiku-5-5",
            "Claude Haiku 5.5",
            line="haiku",
            released="2026-09-01",
            caps=capabilities(editing=False),
        ),
        model_info(
            "claude-opus-4-5-20251101",
            "Claude Opus 4.5",
            line="opus",
            lifecycle="deprecated",
            context=200_000,
            released="2025-11-01",
            retires="2027-01-22",
        ),
        model_info(
            "claude-sonnet-4-5-20250929",
            "Claude Sonnet 4.5",
            line="sonnet",
            lifecycle="retired",
            context=200_000,
            released="2025-09-29",
            retires="2026-11-30",
        ),
    ]


class ModelsState:
    """The models the fake API lists, and its refusal of retired ones."""

    def __init__(self) -> None:
        self.models: list[dict[str, Any]] = default_models()
        """Newest first, as the API lists them."""
        self.page_limit = _MAX_LIMIT
        """The most models one page holds, whatever ``limit`` asks (lower it to see paging)."""
        self._lock = threading.Lock()

    def handle(self, path: str, raw_query: str) -> Served | ErrorReply:
        """A ``GET /v1/models`` page, or one model by id."""
        with self._lock:
            models = list(self.models)
        if path.rstrip("/") == "/v1/models":
            return self._page(models, parse_qsl(raw_query))
        wanted = path.removeprefix("/v1/models/")
        found = next((model for model in models if model["id"] == wanted), None)
        if found is None:
            return ErrorReply(404, "not_found_error", f"model: {wanted}")
        return Served(200, found)

    def refusal(self, body: Mapping[str, Any]) -> ErrorReply | None:
        """The 404 for a Messages API request naming a retired model (by id or alias)."""
        named = str(body.get("model", ""))
        found = self.find(named)
        if found is not None and found["lifecycle"] == "retired":
            return ErrorReply(404, "not_found_error", f"model: {named}")
        return None

    def find(self, model: str) -> dict[str, Any] | None:
        """The listed model ``model`` names: its id, its id without the date (an alias),
        or a dated id of a model listed without one; ``None`` when none is listed."""
        with self._lock:
            models = list(self.models)
        for candidate in models:
            if (
                model in (candidate["id"], base_id(candidate["id"]))
                or base_id(model) == candidate["id"]
            ):
                return candidate
        return None

    def window(self, model: str) -> int:
        """The most input tokens a request to ``model`` may hold (``max_input_tokens``)."""
        found = self.find(model)
        return (found or {}).get("max_input_tokens") or DEFAULT_WINDOW

    def _page(self, models: list[dict[str, Any]], query: list[tuple[str, str]]) -> Served:
        lifecycles = {value for key, value in query if key in ("lifecycle", "lifecycle[]")}
        chosen = [m for m in models if m["lifecycle"] in (lifecycles or _DEFAULT_LIFECYCLES)]
        options = dict(query)
        limit = min(int(options.get("limit") or 20), self.page_limit)
        ids = [model["id"] for model in chosen]
        if options.get("before_id") in ids:
            end = ids.index(options["before_id"])
            start = max(0, end - limit)
            more = start > 0
        else:
            after = options.get("after_id")
            start = ids.index(after) + 1 if after in ids else 0
            end = start + limit
            more = end < len(chosen)
        data = chosen[start:end]
        return Served(
            200,
            {
                "data": data,
                "has_more": more,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            },
        )
