"""The models a key can use: the Models API's list, cached, or the built-in one offline.

Each model comes with its context window, its price (pricing.py; ``unpriced`` where the
package has none) and what it supports (thinking, effort, context editing): the API's
own ``max_input_tokens`` and ``capabilities`` where it gives them, else the built-in
facts (model_facts.py), else unknown.

The list is asked for through the account client (``GET /v1/models``, every lifecycle,
so that retired models are known too) and kept twice:

- in memory, per kernel, so a ``%model`` or a picker costs nothing after the first;
- on disk for ``CACHE_TTL`` (24 hours), per API base URL, in the Jupyter data folder
  beside the skill-upload record (a folder the local sandbox already hides from tools),
  so a new kernel does not wait on the network either. A day, because the list changes
  only when Anthropic releases or retires a model, a few times a year and announced
  ahead; a request to a model retired since is answered with a 404 whose wording names
  the replacement anyway (api_errors.py), and a refresh can be asked for at any time.

Without a key, without a network, or when the API refuses, the built-in list stands
in, carrying one notice that says why; the API is asked again after
``RETRY_AFTER_FAILURE``, not at every look. The cache is keyed by base URL only: no
part of a key is written to disk.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..errors import MissingApiKey, ModelError
from .model_cache import CachedList, ModelListCache
from .model_facts import (
    Retirement,
    Supports,
    built_in_ids,
    deprecations,
    display_name_of,
    facts_of,
    retirement_of,
)
from .pricing import Price, base_model, price_of

if TYPE_CHECKING:
    import anthropic
    from anthropic.types import ModelInfo

    from .account import AccountClient

__all__ = [
    "CACHE_TTL",
    "MODELS_API",
    "Catalog",
    "CatalogModel",
    "ModelCatalog",
    "built_in_catalog",
    "describe_catalog",
    "known_retirement",
]

MODELS_API = "Models API"
CACHE_TTL = 24 * 3600.0
"""Seconds a list from the API is used before it is asked for again (see the module doc)."""
RETRY_AFTER_FAILURE = 600.0
"""Seconds a kernel keeps the built-in list after the API could not be asked."""
LIST_TIMEOUT = 10.0
"""Seconds for the whole listing, tried once: the list is a help, and a person waits on it."""
_PAGE_SIZE = 100
_LIFECYCLES = ["active", "deprecated", "retired"]


@dataclass(frozen=True)
class CatalogModel:
    """One model as the catalog shows it."""

    id: str
    display_name: str
    context_window: int | None
    """Input tokens a request may hold; ``None``: unknown."""
    supports: Supports
    lifecycle: str = "active"
    """``active``, ``deprecated`` (still served, headed for retirement) or ``retired``."""
    retires_at: str | None = None
    """When a deprecated model is to retire, or a retired one did (``2026-11-30``)."""
    line: str | None = None
    """The API's model line (``sonnet``, ``opus``…), where it names one."""

    @property
    def price(self) -> Price | None:
        return price_of(self.id)

    def describe_context(self) -> str:
        """``1M``, ``200K``, or ``unknown``."""
        tokens = self.context_window
        if tokens is None:
            return "unknown"
        if tokens >= 1_000_000:
            return f"{tokens / 1_000_000:.3g}M"
        return f"{tokens / 1000:.3g}K" if tokens >= 1000 else str(tokens)

    def describe_price(self) -> str:
        """``$2 / $10`` (input / output per million tokens), or ``unpriced``."""
        price = self.price
        return f"${price.input:g} / ${price.output:g}" if price else "unpriced"

    def describe_status(self) -> str:
        if self.lifecycle == "deprecated":
            return "deprecated" + (f", retires {self.retires_at}" if self.retires_at else "")
        return "" if self.lifecycle == "active" else self.lifecycle

    @classmethod
    def from_info(cls, info: ModelInfo) -> CatalogModel:
        """An entry of the API's list; facts it leaves out come from the built-in table."""
        facts = facts_of(info.id)
        capabilities = getattr(info, "capabilities", None)
        supports = facts.supports
        if capabilities is not None:
            supports = _supports(capabilities)
        retires_at = getattr(info, "retires_at", None)
        return cls(
            id=info.id,
            display_name=getattr(info, "display_name", None) or display_name_of(info.id),
            context_window=getattr(info, "max_input_tokens", None) or facts.context_window,
            supports=supports,
            lifecycle=getattr(info, "lifecycle", None) or "active",
            retires_at=retires_at.date().isoformat() if retires_at else None,
            line=getattr(info, "line", None),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CatalogModel:
        return cls(**{**data, "supports": Supports(**data["supports"])})


def _supported(capabilities: Any, name: str) -> bool | None:
    return getattr(getattr(capabilities, name, None), "supported", None)


_EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")
_EDITS = ("clear_tool_uses_20250919", "clear_thinking_20251015", "compact_20260112")


def _supports(capabilities: Any) -> Supports:
    """What the Models API says a model takes, down to each thinking type, effort level
    and context edit: a model may list thinking but only with a budget, or editing but
    not compaction, and a request with the rest is refused."""
    thinking_types = getattr(getattr(capabilities, "thinking", None), "types", None)
    effort = getattr(capabilities, "effort", None)
    editing = getattr(capabilities, "context_management", None)
    return Supports(
        thinking=_supported(capabilities, "thinking"),
        effort=_supported(capabilities, "effort"),
        context_editing=_supported(capabilities, "context_management"),
        thinking_off=_supported(thinking_types, "disabled"),
        adaptive=_supported(thinking_types, "adaptive"),
        efforts=_supported_among(effort, _EFFORT_LEVELS),
        edits=_supported_among(editing, _EDITS),
    )


def _supported_among(capability: Any, names: tuple[str, ...]) -> tuple[str, ...] | None:
    """Which of ``names`` the capability marks supported; None when it says nothing of them."""
    if capability is None:
        return None
    known = {name: _supported(capability, name) for name in names}
    if all(value is None for value in known.values()):
        return None
    return tuple(name for name, value in known.items() if value)


@dataclass(frozen=True)
class Catalog:
    """The models one look found, newest first, and where they came from."""

    models: tuple[CatalogModel, ...]
    fetched_at: float | None = None
    """When the API gave this list (seconds since the epoch); ``None``: the built-in list."""
    notice: str = ""
    """Why the built-in list stands in for the API's, in one line."""

    @property
    def from_api(self) -> bool:
        return self.fetched_at is not None

    @property
    def usable(self) -> tuple[CatalogModel, ...]:
        """The models a request may name: active and deprecated ones."""
        return tuple(model for model in self.models if model.lifecycle != "retired")

    def find(self, model: str) -> CatalogModel | None:
        """The usable entry ``model`` names: its own id, else the same model under a
        date suffix or without one (``claude-haiku-4-5`` and ``…-20251001``)."""
        return _matching(self.usable, model)

    def retirement(self, model: str) -> Retirement | None:
        """How ``model`` was retired and what replaces it; ``None`` while it is served.

        The API's list wins where it has the model; the built-in record names a
        replacement where the API does not, else the newest usable model of its line."""
        if self.from_api and self.find(model) is not None:
            return None
        retired = _matching([m for m in self.models if m.lifecycle == "retired"], model)
        known = retirement_of(model)
        if retired is None:
            return known
        replacement = known.replacement if known else self._newest_of(retired.line)
        return Retirement(retired.retires_at or (known.date if known else None), replacement)

    def close_to(self, model: str) -> str | None:
        """The usable id nearest to ``model``, as a typo would be; ``None`` if none is near."""
        found = difflib.get_close_matches(model, [m.id for m in self.usable], n=1, cutoff=0.8)
        return found[0] if found else None

    def _newest_of(self, line: str | None) -> str | None:
        active = (m.id for m in self.models if m.line == line and m.lifecycle == "active")
        return next(active, None) if line else None


def _matching(models: Iterable[CatalogModel], model: str) -> CatalogModel | None:
    models = list(models)
    exact = next((m for m in models if m.id == model), None)
    return exact or next((m for m in models if base_model(m.id) == base_model(model)), None)


def built_in_catalog(notice: str = "") -> Catalog:
    """The models the installed SDK knows, with the built-in facts and the SDK's deprecations."""
    deprecated = deprecations()
    models = []
    for model in built_in_ids():
        facts = facts_of(model)
        end = deprecated.get(model)
        models.append(
            CatalogModel(
                id=model,
                display_name=display_name_of(model),
                context_window=facts.context_window,
                supports=facts.supports,
                lifecycle="deprecated" if end else "active",
                retires_at=end,
            )
        )
    return Catalog(tuple(models), notice=notice)


def known_retirement(model: str, base_url: str) -> Retirement | None:
    """Whether ``model`` is known retired, without asking the API: from the list last
    cached for ``base_url`` at any age (a retirement is for good), else built in."""
    return (_cached(ModelListCache(), base_url) or built_in_catalog()).retirement(model)


def _cached(cache: ModelListCache, base_url: str) -> Catalog | None:
    """The catalog kept on disk for ``base_url``; ``None`` if none, or one of another shape."""
    listed = cache.read(base_url)
    if listed is None:
        return None
    try:
        models = tuple(CatalogModel.from_json(model) for model in listed.models)
    except (TypeError, KeyError, AttributeError):
        return None
    return Catalog(models, fetched_at=listed.fetched_at)


class ModelCatalog:
    """The catalog a kernel shows: the API's list held in memory and on disk for
    ``ttl`` seconds, or the built-in one when the API cannot be asked."""

    def __init__(
        self,
        cache: ModelListCache | None = None,
        *,
        ttl: float = CACHE_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cache = cache or ModelListCache()
        self.ttl = ttl
        self._clock = clock
        self._held: dict[str, tuple[Catalog, float]] = {}
        """Base URL → the catalog and when it stops being used."""

    async def get(self, account: AccountClient | None, *, refresh: bool = False) -> Catalog:
        """The catalog for ``account``'s API; ``refresh`` asks the API even if one is held."""
        if account is None:
            return built_in_catalog("this session has no account client to ask the API")
        base_url = ""
        try:
            async with account.api_call(MODELS_API) as sdk:
                base_url = str(sdk.base_url).rstrip("/")
                held = None if refresh else self._recall(base_url)
                if held is not None:
                    return held
                now = self._clock()
                catalog = await self._listed(sdk, now)
        except ModelError as error:
            reason = (
                "no API key is set, so the API was not asked"
                if isinstance(error, MissingApiKey)
                else f"the API's list could not be read: {error}"
            )
            catalog = built_in_catalog(reason)
            self._held[base_url] = (catalog, self._clock() + RETRY_AFTER_FAILURE)
            return catalog
        models = [model.to_json() for model in catalog.models]
        self.cache.write(base_url, CachedList(now, models), keep_for=self.ttl)
        self._held[base_url] = (catalog, now + self.ttl)
        return catalog

    def known(self, model: str) -> CatalogModel | None:
        """``model`` in a list this kernel holds, without asking anything: what a turn
        reads of the model (its window, what it supports). The lists kept on disk are not
        read here: they are kept per API, and a turn does not know which API its client
        will resolve to before it asks."""
        for catalog, _ in self._held.values():
            found = catalog.find(model)
            if found is not None:
                return found
        return None

    def _recall(self, base_url: str) -> Catalog | None:
        """The catalog held in memory, else the one on disk, while they are fresh."""
        now = self._clock()
        held, until = self._held.get(base_url, (None, 0.0))
        if held is not None and now < until:
            return held
        cached = _cached(self.cache, base_url)
        if cached is None or cached.fetched_at is None or now >= cached.fetched_at + self.ttl:
            return None
        self._held[base_url] = (cached, cached.fetched_at + self.ttl)
        return cached

    async def _listed(self, sdk: anthropic.AsyncAnthropic, now: float) -> Catalog:
        """Every page of the API's list, in one try within ``LIST_TIMEOUT``."""
        pages = sdk.with_options(max_retries=0).models.list(
            lifecycle=_LIFECYCLES, limit=_PAGE_SIZE, timeout=LIST_TIMEOUT
        )
        models = tuple([CatalogModel.from_info(info) async for info in pages])
        if not any(model.lifecycle != "retired" for model in models):
            raise ModelError("the Models API listed no model this key can use")
        return Catalog(models, fetched_at=now)


def describe_catalog(catalog: Catalog, current: str) -> list[str]:
    """The catalog as a compact table, ``current`` marked with ``*``, under a line that
    says where the list comes from."""
    if catalog.fetched_at is not None:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(catalog.fetched_at))
        lines = [f"models the API lists (as of {when}):"]
    else:
        lines = [f"models the installed SDK knows ({catalog.notice or 'built in'}):"]
    header = ("", "id", "context", "$/MTok in / out", "supports", "")
    rows = [header] + [
        (
            "*" if model is catalog.find(current) else "",
            model.id,
            model.describe_context(),
            model.describe_price(),
            model.supports.describe(),
            model.describe_status(),
        )
        for model in catalog.usable
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    if any("?" in row[4] for row in rows[1:]):
        lines.append("?: not known without the API's list")
    retired = catalog.retirement(current)
    if retired is not None:
        lines.append(f"the current model: {retired.describe(current)}")
    elif catalog.find(current) is None:
        lines.append(f"the current model, {current}, is not in this list")
    return lines
