"""``%permissions`` and ``%budget``: what Claude's tools may do, and what turns may spend.

Split from magics.py: it holds their configuration (``c.GuardMagics.permission_mode``,
``allow_rules``, ``cell_budget``, ``prices``…) and the one place the person is asked:
with the turn's view where it offers buttons (the widget trace), else through the
kernel's stdin channel as ``input()`` is, so the question reaches JupyterLab, Notebook 7,
VS Code and ``jupyter console`` alike. A frontend that allows no input (nbclient,
papermill, ``replay``) makes ``input()`` fail at once: the call is then denied, never
waited for. ``ConjureMagics`` creates this class and builds sessions from its settings.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.core.magic import Magics, line_magic, magics_class, no_var_expand
from traitlets import Dict, Enum, List, TraitError, Unicode, observe, validate

from ..backends.base import default_permission_mode
from ..backends.gate import MODES
from ..backends.registry import backend_names, get_backend
from ..clients.base import CREDENTIAL_ENV_VARS
from ..clients.pricing import (
    PRICES_SHAPE,
    Price,
    Spend,
    configure_prices,
    configured_prices,
    parse_prices,
    price_of,
    read_prices,
)
from ..conversation.budget import Budget, Limit
from ..conversation.permissions import READ_ONLY_COMMANDS, Permissions, rules_from_allowed_tools
from ..conversation.rules import Rule, split_rules
from ..conversation.session_gate import Approval, ApprovalRequest
from ..errors import ConjureError

if TYPE_CHECKING:
    from ..conversation.session import Session
    from ..conversation.transcript import TurnRecord
    from .magics import ConjureMagics

__all__ = ["GuardMagics", "describe_permissions", "parse_answer", "prompt_line"]

_MODES_HELP = {
    "ask": "asks before commands, writes, and reads outside the workspace and the skills' "
    "folders, unless a rule allows them; where no one can answer (a headless run) they are denied",
    "auto": "runs every tool call that no deny rule names",
    "read-only": "runs views and read-only commands; denies writes and every other command",
    "deny": "runs no tool call",
}
_WORD = re.compile(r"(?:[^\s(]|\([^)]*\)?)+")
"""One argument: spaces inside a rule's parentheses stay in it (``allow=bash_tool(git status*)``)."""


@magics_class
class GuardMagics(Magics):
    """Permissions and budgets of the session that ``ConjureMagics`` runs."""

    permission_mode = Enum(
        ["", *MODES],
        "",
        help="ask, auto, read-only or deny; empty: the backend's default (local runs its "
        "sandboxed calls and asks without the sandbox or with network; native runs the "
        "person's own methods).",
    ).tag(config=True)
    allow_rules = List(
        Unicode(),
        help="Rules of tool calls that run without asking, e.g. 'bash_tool(git status*)'.",
    ).tag(config=True)
    deny_rules = List(
        Unicode(), help="Rules of tool calls that never run; they win over allow rules."
    ).tag(config=True)
    read_only_rules = List(
        Unicode(),
        [str(rule) for rule in READ_ONLY_COMMANDS],
        help="Commands that run in read-only mode.",
    ).tag(config=True)
    cell_budget = Unicode(
        "", help="What one cell may spend: dollars ('$0.50') or tokens ('200k'); empty: no limit."
    ).tag(config=True)
    notebook_budget = Unicode(
        "", help="What the whole notebook may spend, restored turns included; empty: no limit."
    ).tag(config=True)
    prices = Dict(
        value_trait=Dict(),
        help="Prices of models the package does not list (or that cost you otherwise), for "
        f"budgets, footers and the history: {PRICES_SHAPE}.",
    ).tag(config=True)

    def __init__(self, shell: Any = None, *, conjure: ConjureMagics, **kwargs: Any) -> None:
        self.conjure = conjure
        self._cell: tuple[int | None, Spend] = (None, Spend())
        self._file_prices: dict[str, Price] = {}
        super().__init__(shell=shell, **kwargs)
        self._apply_prices()

    @validate("allow_rules", "deny_rules", "read_only_rules")
    def _check_rules(self, proposal: dict[str, Any]) -> list[str]:
        for text in proposal["value"]:
            try:
                Rule.parse(text)
            except ValueError as error:
                raise TraitError(f"{proposal['trait'].name}: {error}") from None
        return proposal["value"]

    @validate("cell_budget", "notebook_budget")
    def _check_limit(self, proposal: dict[str, Any]) -> str:
        try:
            Limit.parse(proposal["value"])
        except ValueError as error:
            raise TraitError(f"{proposal['trait'].name}: {error}") from None
        return proposal["value"]

    @validate("prices")
    def _check_prices(self, proposal: dict[str, Any]) -> dict[str, Any]:
        try:
            parse_prices(proposal["value"])
        except ValueError as error:
            raise TraitError(f"prices: {error}") from None
        return proposal["value"]

    @observe("prices")
    def _apply_prices(self, change: dict[str, Any] | None = None) -> None:
        """Every reader prices with the configured table, then files ``%budget`` read."""
        configure_prices({**parse_prices(self.prices), **self._file_prices})

    @observe("permission_mode", "cell_budget", "notebook_budget")
    def _apply_to_session(self, change: dict[str, Any]) -> None:
        """``%config GuardMagics.… = …`` mid-session applies from the next turn."""
        session = self.conjure._session
        if session is None:
            return
        if change["name"] == "permission_mode":
            session.permissions = dataclasses.replace(
                session.permissions, mode=change["new"] or None
            )
        else:
            session.budget = self.configured_budget()

    def configured_permissions(self) -> Permissions:
        return Permissions.parse(
            self.permission_mode, self.allow_rules, self.deny_rules, self.read_only_rules
        )

    def configured_budget(self) -> Budget:
        return Budget(Limit.parse(self.cell_budget), Limit.parse(self.notebook_budget))

    # -- a turn's questions and spend -----------------------------------------------------

    def asker(self, view: object) -> Callable[[ApprovalRequest], Approval]:
        """How a turn shown by ``view`` asks the person: with the view's own buttons where
        it offers them (``view.ask(request)`` answers, or None when it cannot), else on
        the stdin channel (``ask``)."""
        offered: Callable[[ApprovalRequest], Approval | None] | None = getattr(view, "ask", None)

        def ask(request: ApprovalRequest) -> Approval:
            answer = offered(request) if offered is not None else None
            return answer if answer is not None else self.ask(request)

        return ask

    def ask(self, request: ApprovalRequest) -> Approval:
        """Ask the person on the kernel's stdin channel; denied at once where there is none."""
        try:
            answer = input(prompt_line(request))
        except (StdinNotImplementedError, EOFError):
            return Approval(False, asked=False)
        return parse_answer(answer)

    def cell_spent(self) -> Spend:
        """What earlier turns of the running cell spent (a cell may chat more than once)."""
        cell, spent = self._cell
        return spent if cell is not None and cell == self._cell_number() else Spend()

    def count(self, record: TurnRecord) -> None:
        """Add a finished turn's spend to its cell's."""
        self._cell = (self._cell_number(), self.cell_spent() + (record.spend or Spend()))

    def _cell_number(self) -> int | None:
        return getattr(self.shell, "execution_count", None)

    # -- magics ---------------------------------------------------------------------------

    @no_var_expand  # a pattern may hold $ and braces, as commands do
    @line_magic
    def permissions(self, line: str) -> None:
        """Show or set what Claude's tools may do.

        ``%permissions [ask|auto|read-only|deny|default] [allow=RULE,…] [deny=RULE,…]``
        sets the mode (``default``: the backend's own) and adds rules; ``%permissions
        trust-skills`` allows what the loaded skills' ``allowed-tools`` name;
        ``%permissions reset`` goes back to the configured permissions. A rule is a tool
        and a pattern of its input: ``bash_tool(git status*)``, ``view(*)``,
        ``create_file(docs/**)``; deny rules win over allow rules.
        """
        session = self.conjure.session
        words = _WORD.findall(line)
        if words == ["trust-skills"]:
            self._trust_skills(session)
        elif words:
            session.permissions = _changed(session.permissions, words, self)
        print(describe_permissions(session))

    @no_var_expand  # $1 is one dollar, not IPython's $-expansion of 1
    @line_magic
    def budget(self, line: str) -> None:
        """Show or set spending limits: ``%budget [cell=LIMIT] [notebook=LIMIT] [prices=FILE]``.

        A limit is dollars (``$0.50``) or tokens (``200k``), or ``none``. Before each model
        call its worst case (its prompt and the longest answer it may write) is checked
        against what the cell and the notebook have left: ``max_tokens`` is lowered to fit,
        and a call that cannot fit a short answer is not made; the turn ends saying what
        was spent. ``prices=FILE`` reads prices of models the package does not list from a
        JSON or TOML file: {"MODEL-ID": {"input": 3, "output": 15}}, dollars per million
        tokens (``cache_write`` and ``cache_read`` too, if they are not 1.25x and 0.1x input).
        """
        session = self.conjure.session
        cell, notebook = session.budget.cell, session.budget.notebook
        try:
            words = shlex.split(line)  # a file's path may be quoted
        except ValueError as error:
            raise UsageError(f"{line.strip()!r}: {error}") from None
        for word in words:
            key, equals, value = word.partition("=")
            if not equals or key not in ("cell", "notebook", "prices"):
                raise UsageError(
                    f"expected cell=LIMIT, notebook=LIMIT or prices=FILE, got {word!r}"
                )
            try:
                if key == "prices":
                    self._file_prices.update(read_prices(value))
                    self._apply_prices()
                    continue
                limit = Limit.parse(value)
            except ValueError as error:
                raise UsageError(f"{key}={value}: {error}") from None
            cell, notebook = (limit, notebook) if key == "cell" else (cell, limit)
        session.budget = Budget(cell, notebook)
        print(f"budget: {session.budget.describe()}")
        print(f"spent: {session.spent.describe()} in this notebook")
        if configured := configured_prices():
            print(f"prices configured for: {', '.join(sorted(configured))}")
        in_dollars = any(limit and limit.unit == "dollars" for limit in (cell, notebook))
        if in_dollars and price_of(session.model) is None:
            print(
                f"no price is known for {session.model}: a limit in dollars counts none of its "
                "tokens (give its price with %budget prices=FILE)"
            )

    def _trust_skills(self, session: Session) -> None:
        added: list[Rule] = []
        for skill in session.skills:
            rules, unknown = rules_from_allowed_tools(skill)
            added += rules
            if unknown:
                print(f"{skill.name}: no tool here for {', '.join(unknown)}; left out")
        if not added:
            print("no loaded skill pre-approves a tool (allowed-tools); nothing changed")
        session.permissions = session.permissions.adding(allow=added)


def describe_permissions(session: Session) -> str:
    """What ``%permissions`` prints: the mode in force and why, the rules, every backend's
    default, and what the tools never see."""
    permissions = session.permissions
    mode = session.permission_mode
    routes = session.route_modes
    origin = (
        "set for this session"
        if permissions.mode
        else f"the {session.backend_name} backend's default"
        if not routes
        else "the strictest of the routes' defaults; each call is decided by its own: "
        + ", ".join(f"{name} {route_mode}" for name, route_mode in routes.items())
    )
    lines = [f"permissions: {mode} ({origin}): {_MODES_HELP[mode]}"]
    if mode == "ask":
        paths = session.backend_session.paths
        lines.append(f"  workspace: {paths.get('workdir', '?')}")
    lines.append(f"  allow: {_listed(permissions.allow)}")
    lines.append(f"  deny: {_listed(permissions.deny)}")
    if mode == "read-only":
        lines.append(f"  read-only commands: {_listed(permissions.read_only)}")
    lines.append(f"  backend defaults: {_backend_defaults()}")
    lines.append(
        f"  tools never see: {', '.join(CREDENTIAL_ENV_VARS)} or %secret variables, in any mode"
    )
    return "\n".join(lines)


def prompt_line(request: ApprovalRequest) -> str:
    """The one line the person answers; it names the tool, the command or path as the call
    has it, the backend, and what "always" allows."""
    return (
        f"Allow {request.call.name} to {request.question}? "
        f"y = yes · a = always, allowing {request.allows} · n = no (n: REASON tells Claude why) "
    )


def parse_answer(text: str) -> Approval:
    """``y``/``yes``, ``a``/``always``; anything else is no, and the words after ``n``/``no``
    (or the whole answer) are the reason Claude is given."""
    answer = text.strip()
    if answer.lower() in ("y", "yes"):
        return Approval(True)
    if answer.lower() in ("a", "always"):
        return Approval(True, always=True)
    said = re.match(r"(?i)no?\b[\s:,.;-]*(.*)", answer, re.DOTALL)
    return Approval(False, reason=(said.group(1) if said else answer).strip())


def _changed(permissions: Permissions, words: list[str], guard: GuardMagics) -> Permissions:
    """``permissions`` with the mode and rules the words of ``%permissions`` give."""
    if words == ["reset"]:
        return guard.configured_permissions()
    mode = permissions.mode
    allow: list[Rule] = []
    deny: list[Rule] = []
    for word in words:
        key, equals, value = word.partition("=")
        try:
            if equals and key in ("allow", "deny"):
                (allow if key == "allow" else deny).extend(map(Rule.parse, split_rules(value)))
            elif word in MODES or word == "default":
                mode = None if word == "default" else word  # type: ignore[assignment]
            else:
                raise ValueError(
                    f"{word!r} is not a mode ({', '.join(MODES)}, default), allow=RULE,…, "
                    "deny=RULE,…, trust-skills or reset"
                )
        except ValueError as error:
            raise UsageError(str(error)) from None
    return dataclasses.replace(permissions, mode=mode).adding(allow, deny)


def _listed(rules: tuple[Rule, ...]) -> str:
    return ", ".join(map(str, rules)) or "none"


def _backend_defaults() -> str:
    """``local ask · native auto``: each installed backend's own mode."""
    defaults = []
    for name in backend_names():
        if name == "hybrid":  # its routes' own defaults
            continue
        try:
            defaults.append(f"{name} {default_permission_mode(get_backend(name))}")
        except ConjureError:  # a broken plug-in is reported where it is used, not here
            continue
    return " · ".join(defaults)
