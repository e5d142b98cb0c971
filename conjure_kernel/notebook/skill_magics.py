"""``%skills``: the session's skills, what they need, and the skills on Anthropic's side.

Split from magics.py: loading, checking and uploading skills is its own job. The settings
it reads (``c.ConjureMagics.backend_settings``) stay on ``ConjureMagics``, which creates
this class and registers it beside itself.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, cast

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ..backends.registry import get_backend
from ..errors import SkillError
from ..skills.discovery import find_skills
from ..tools.output import one_line

if TYPE_CHECKING:
    from ..backends.docker.settings import DockerSettings
    from .magics import ConjureMagics

__all__ = ["SkillMagics"]

_NO_SKILLS = "no skills loaded; add some with %skills PATH"


@magics_class
class SkillMagics(Magics):
    """The skills of the session that ``ConjureMagics`` runs."""

    def __init__(self, shell: Any = None, *, conjure: ConjureMagics, **kwargs: Any) -> None:
        self.conjure = conjure
        super().__init__(shell=shell, **kwargs)

    @magic_arguments()
    @argument(
        "paths", nargs="*", help="Skill folders (searched at any depth) or .skill files to add."
    )
    @argument(
        "--remote",
        action="store_true",
        help="List the skills on Anthropic's side (yours and Anthropic's).",
    )
    @argument(
        "--upload",
        metavar="PATH",
        action="append",
        default=[],
        help="Upload a skill to Anthropic, unless unchanged since its last upload.",
    )
    @argument(
        "--delete",
        metavar="ID",
        action="append",
        default=[],
        help="Delete a custom skill from Anthropic, with all its versions.",
    )
    @argument(
        "--remove",
        metavar="NAME",
        action="append",
        default=[],
        help="Take a loaded skill out of this session (its files stay where they are).",
    )
    @argument(
        "--check",
        action="store_true",
        help="Say what the loaded skills need (programs, Python modules, npm packages), "
        "whether each backend has it, and what would add the rest.",
    )
    @line_magic
    def skills(self, line: str) -> None:
        """List the loaded skills, add skills from folders and .skill packages, remove
        them from the session, check what they need, or manage the skills on Anthropic's
        side (the anthropic backend's)."""
        args = parse_argstring(self.skills, line)
        if args.remote or args.upload or args.delete:
            self._remote_skills(args.upload, args.delete, listing=args.remote)
            return
        session = self.conjure.session
        if args.remove:
            try:
                session.remove_skills(args.remove)
            except SkillError as error:
                raise UsageError(str(error)) from None
            print(f"removed {', '.join(args.remove)}")
        if args.paths:
            self._add_skills(args.paths)
        if args.check:
            print(self._skills_check())
            return
        for skill in session.skills:
            print(f"{skill.name}: {one_line(skill.description, 100)}  ({skill.origin})")
        if not session.skills:
            print(_NO_SKILLS)

    def _add_skills(self, paths: list[str]) -> None:
        """Add the skills found under ``paths``; warnings are printed, errors raised after."""
        found = find_skills(paths)
        self.conjure.session.add_skills(found.skills)
        warnings = [p for p in found.problems if p.severity == "warning"]
        errors = [p for p in found.problems if p.severity == "error"]
        for problem in warnings:
            print(f"warning: {problem}", file=sys.stderr)
        if errors:
            raise SkillError(
                "skipped: " + "; ".join(str(p) for p in errors),
                hint="fix the path or the SKILL.md; `python -m conjure_kernel skills validate PATH` checks every rule",
            )

    def _skills_check(self) -> str:
        """The doctor's report on the loaded skills; docker is asked about the image this
        session uses there (or would)."""
        from ..doctor import check_skills

        session = self.conjure.session
        if not session.skills:
            return _NO_SKILLS
        docker = cast(
            "DockerSettings",
            session.options.settings
            if session.backend_name == "docker"
            else session.settings_for(get_backend("docker")),
        )
        return check_skills(session.skills, image=docker.image, host=docker.host, magics=True)

    def _remote_skills(self, upload: list[str], delete: list[str], *, listing: bool) -> None:
        """Uploads, then deletions, then the listing, through the session's account client."""
        from ..clients.skills_api import delete_remote, remote_listing, upload_path

        session = self.conjure.session
        account = session.account
        if account is None:
            raise UsageError(
                "skills on Anthropic's side cannot be managed: this session has no account client"
            )
        run = session.runner.run
        for path in upload:
            print(run(upload_path(account, path)))
        for skill_id in delete:
            print(run(delete_remote(account, skill_id)))
        if listing:
            print("\n".join(run(remote_listing(account))))
