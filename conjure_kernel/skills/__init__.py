"""Agent Skills: find them, validate them, and describe them to the model.

Nothing here imports IPython or the API client, so the notebook layer and the CLI
can both use it.
"""

from conjure_kernel.skills.archive import SkillArchive, extract_skill_archive
from conjure_kernel.skills.discovery import SkillSet, find_skills, load_skill
from conjure_kernel.skills.frontmatter import parse_frontmatter, split_frontmatter
from conjure_kernel.skills.prompt import render_available_skills, render_system_prompt
from conjure_kernel.skills.skill import Diagnostic, Skill, SkillMetadata
from conjure_kernel.skills.validation import validate_frontmatter, validate_skill

__all__ = [
    "Diagnostic",
    "Skill",
    "SkillArchive",
    "SkillMetadata",
    "SkillSet",
    "extract_skill_archive",
    "find_skills",
    "load_skill",
    "parse_frontmatter",
    "render_available_skills",
    "render_system_prompt",
    "split_frontmatter",
    "validate_frontmatter",
    "validate_skill",
]
