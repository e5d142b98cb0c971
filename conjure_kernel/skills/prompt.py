"""Tell the model which skills exist: the system prompt and its skill catalog.

The output is the prompt-cache prefix of every request, so it is deterministic: the
same skills, locations and environment give byte-identical text (no timestamps, no
set ordering).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from conjure_kernel.skills.skill import Skill

__all__ = ["PREAMBLE", "SKILLS_INSTRUCTION", "render_available_skills", "render_system_prompt"]

PREAMBLE = (
    "You are working in a Jupyter notebook: the user writes chat cells and reads your "
    "replies as cell output. Use your tools to do the work rather than describing it."
)

SKILLS_INSTRUCTION = (
    "The following skills provide specialized instructions for specific tasks. "
    "When a task matches a skill's description, read its SKILL.md with the view tool at the "
    "given location before doing anything else; resolve relative paths in it against the "
    "skill's folder."
)


def render_available_skills(
    skills: Sequence[Skill], location: Callable[[Skill], str] = lambda skill: str(skill.skill_md)
) -> str:
    """The ``<available_skills>`` block, one ``<skill>`` per line; ``""`` with no skills.

    ``location`` maps a skill to its SKILL.md path as the tools see it, for example a
    mount point inside a container rather than the host path.
    """
    if not skills:
        return ""
    rows = (
        f"<skill><name>{_escape(skill.name)}</name>"
        f"<description>{_escape(skill.description)}</description>"
        f"<location>{_escape(location(skill))}</location></skill>"
        for skill in skills
    )
    return "\n".join(["<available_skills>", *rows, "</available_skills>"])


def render_system_prompt(
    skills: Sequence[Skill], location: Callable[[Skill], str], environment: str
) -> str:
    """The preamble, the backend's ``environment`` sentence, then the skills, if any.

    With no skills, the instruction and the catalog are left out entirely, as the
    client guide advises: an empty catalog only confuses the model.
    """
    parts = [" ".join(filter(None, [PREAMBLE, environment.strip()]))]
    if skills:
        parts += [SKILLS_INSTRUCTION, render_available_skills(skills, location)]
    return "\n\n".join(parts)


def _escape(text: str) -> str:
    return html.escape(text, quote=False)
