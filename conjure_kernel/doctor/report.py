"""The doctor: what skills need, whether each backend has it, and what would add the rest.

``check_skills`` reads every skill (``skill_requirements``), asks each backend once about
everything any of them needs (``backends.availability``: the host, a container of the
docker image, Anthropic's documentation, the kernel's own Python), and lays the answers out
as one table per skill with the commands that would add what is missing. A backend that
cannot be asked (no Docker engine, no image) is one line saying why, and its column shows
``-``; the other backends are still checked. ``python -m conjure_kernel doctor`` prints it,
and the notebook's skill check shows the same text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..backends.availability import (
    Inventory,
    Presence,
    Wanted,
    hosted_inventory,
    kernel_inventory,
    probe_host,
)
from ..errors import BackendError
from ..skills.skill import Skill
from ..tools.output import one_line
from .install_commands import Missing, docker_commands, local_commands
from .package_names import MINIMUM_VERSIONS, distribution_of
from .skill_requirements import Requirement, SkillRequirements, need_label, read_requirements

__all__ = ["BACKENDS", "BackendCheck", "check_skills", "render_report"]

BACKENDS = ("local", "docker", "anthropic", "native")
"""The backends the doctor knows how to ask, in the order of the table's columns."""
_CELLS = {True: "yes", False: "missing", None: "?"}


@dataclass(frozen=True)
class BackendCheck:
    """One backend's answers, or why it could not be asked."""

    backend: str
    inventory: Inventory | None
    where: str
    """What was asked, for the report's first lines (``conjure-sandbox:full on …``)."""
    variant: str = ""
    """For docker, the image's variant (``slim``, ``full``), empty for other images."""


def check_skills(
    skills: Sequence[Skill],
    *,
    backends: Sequence[str] = BACKENDS,
    image: str = "",
    host: str = "",
    magics: bool = False,
) -> str:
    """The doctor's report on ``skills`` for ``backends``, as text.

    ``image`` is the docker image (a variant's name or a tag; empty: the default) and
    ``host`` the engine; ``magics`` words the docker fix as the magic a notebook types.
    """
    unknown = [name for name in backends if name not in BACKENDS]
    if unknown:
        raise BackendError(
            f"the doctor cannot check {', '.join(unknown)}",
            hint=f"choose among {', '.join(BACKENDS)}",
        )
    found = [read_requirements(skill) for skill in skills]
    wanted = _wanted(found)
    checks = [_CHECKERS[name](wanted, image, host) for name in backends]
    return render_report(found, checks, magics=magics)


def _wanted(found: Sequence[SkillRequirements]) -> Wanted:
    needs = {requirement.need for skill in found for requirement in skill.requirements}
    ordered = sorted(needs)
    return Wanted(
        tuple(need.name for need in ordered if need.kind == "program"),
        tuple((need.name, distribution_of(need.name)) for need in ordered if need.kind == "python"),
        tuple(need.name for need in ordered if need.kind == "node"),
    )


def _check_local(wanted: Wanted, image: str, host: str) -> BackendCheck:
    try:
        inventory = probe_host(wanted)
    except BackendError as error:
        return BackendCheck("local", None, _problem(error))
    interpreters = f"python {inventory.python or 'none'}, node {inventory.node or 'none'}"
    return BackendCheck("local", inventory, f"this machine ({interpreters})")


def _check_docker(wanted: Wanted, image: str, host: str) -> BackendCheck:
    from ..backends.docker.engine import engine_name
    from ..backends.docker.images import DEFAULT_IMAGE, image_tag
    from ..backends.docker.probe import probe_image

    tag = image_tag(image) if image else DEFAULT_IMAGE
    try:
        inventory = probe_image(tag, wanted, host=host)
    except BackendError as error:
        return BackendCheck("docker", None, f"{tag}: {_problem(error)}")
    where = f"{tag} ({inventory.image_id}) on {engine_name(host)}"
    return BackendCheck("docker", inventory, where, inventory.variant)


def _check_anthropic(wanted: Wanted, image: str, host: str) -> BackendCheck:
    where = "Anthropic's code-execution container: what its documentation lists (? unknown)"
    return BackendCheck("anthropic", hosted_inventory(wanted), where)


def _check_native(wanted: Wanted, image: str, host: str) -> BackendCheck:
    where = "Python methods in the kernel: no commands, so no skill scripts"
    return BackendCheck("native", kernel_inventory(wanted), where)


_CHECKERS: dict[str, Callable[[Wanted, str, str], BackendCheck]] = {
    "local": _check_local,
    "docker": _check_docker,
    "anthropic": _check_anthropic,
    "native": _check_native,
}


def _problem(error: BackendError) -> str:
    """One line: what failed, and the hint."""
    return f"not checked: {error}" + (f" ({error.hint})" if error.hint else "")


def render_report(
    found: Sequence[SkillRequirements], checks: Sequence[BackendCheck], *, magics: bool = False
) -> str:
    """The backends asked, then per skill its needs by backend and the fixes."""
    width = max(len(check.backend) for check in checks) if checks else 0
    lines = ["Checked on:"]
    lines += [f"  {check.backend:<{width}}  {check.where}" for check in checks]
    for skill in found:
        lines += ["", *_skill_section(skill, checks, magics)]
    if not found:
        lines += ["", "no skills to check"]
    return "\n".join(lines)


def _skill_section(
    found: SkillRequirements, checks: Sequence[BackendCheck], magics: bool
) -> list[str]:
    lines = [f"{found.skill.name}  {found.skill.origin}"]
    required = [item for item in found.requirements if not item.optional]
    optional = [item for item in found.requirements if item.optional]
    if required:
        rows = [["NEED", "USED IN", *(check.backend for check in checks)]]
        rows += [
            [need_label(item.need), _where(item), *(_cell(check, item) for check in checks)]
            for item in required
        ]
        lines += _table(rows)
    else:
        lines.append("  needs nothing beyond a shell and the file tools")
    if optional:
        names = ", ".join(need_label(item.need) for item in optional)
        lines.append(f"  optional (reference pages, or code that copes without): {names}")
    if found.compatibility:
        lines.append(f"  compatibility: {one_line(found.compatibility, 300)}")
    lines += [f"  not read: {reason}" for reason in found.unread]
    tools = [item.need.name for item in required if item.need.kind == "tool"]
    if tools:
        lines.append(f"  allowed-tools names {', '.join(tools)}: no backend here offers it")
    for check in checks:
        lines += [f"  {check.backend}: {line}" for line in _fixes(check, required, magics)]
    return lines


def _where(item: Requirement) -> str:
    more = len(item.files) - 1
    return item.files[0] + (f" +{more}" if more else "")


def _cell(check: BackendCheck, item: Requirement) -> str:
    if check.inventory is None:
        return "-"
    if item.need.kind == "tool":
        return "missing"
    presence = check.inventory.of(item.need.kind, item.need.name)
    if presence.found and _too_old(item, presence):
        return f"{presence.version} (<{_minimum(item)})"
    if presence.found and presence.version:
        return presence.version
    return _CELLS[presence.found]


def _minimum(item: Requirement) -> int:
    return MINIMUM_VERSIONS[distribution_of(item.need.name).lower()][0]


def _too_old(item: Requirement, presence: Presence) -> bool:
    if (
        item.need.kind != "python"
        or distribution_of(item.need.name).lower() not in MINIMUM_VERSIONS
    ):
        return False
    major = re.match(r"\d+", presence.version)
    return major is not None and int(major.group(0)) < _minimum(item)


def _fixes(check: BackendCheck, required: Sequence[Requirement], magics: bool) -> list[str]:
    """The commands that would add what this backend lacks, or why none would."""
    if check.inventory is None:
        return []
    missing, unknown = [], []
    for item in required:
        presence = check.inventory.of(item.need.kind, item.need.name)
        if item.need.kind == "tool":
            continue
        if presence.found is None:
            unknown.append(need_label(item.need))
        elif not presence.found or _too_old(item, presence):
            missing.append(Missing(item.need, presence.version if presence.found else ""))
    lines = []
    if check.backend == "local" and missing:
        lines += local_commands(missing, check.inventory.python)
    elif check.backend == "docker" and missing:
        lines += docker_commands(missing, check.variant, magics=magics)
    elif check.backend == "native" and missing:
        lines.append("runs Python methods, not a skill's commands: use local or docker for it")
    if unknown:
        lines.append(f"not documented, so unknown until a turn tries: {', '.join(unknown)}")
    return lines


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  "
        + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
