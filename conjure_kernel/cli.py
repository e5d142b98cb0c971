"""``python -m conjure_kernel kernel | install | skills validate | replay``.

Kept apart from the kernel so that each command imports only what it uses. The
kernelspec starts the kernel with the explicit ``kernel`` command; anything that is
not a known command gets the usage and exit status 2, never a kernel waiting for a
connection that will not come.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import ConjureError

__all__ = ["main"]

KERNEL_COMMAND = "kernel"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [KERNEL_COMMAND] or argv[:1] == ["-f"]:  # "-f": kernelspecs from before
        from .notebook.kernel import launch

        launch(argv[1:] if argv[0] == KERNEL_COMMAND else argv)
        return 0
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ConjureError as error:
        print(f"error: {error}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m conjure_kernel",
        description="Conjure kernel tools.",
        epilog=f"`{KERNEL_COMMAND} -f CONNECTION_FILE` starts the kernel itself "
        "(the installed kernelspec runs it).",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    install = commands.add_parser("install", help="Install the 'conjure' Jupyter kernelspec.")
    where = install.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="Install for the current user.")
    where.add_argument(
        "--sys-prefix", action="store_true", help="Install into sys.prefix (the active venv)."
    )
    where.add_argument("--prefix", metavar="PATH", help="Install under PATH/share/jupyter/kernels.")
    install.set_defaults(run=_install)

    skills = commands.add_parser("skills", help="Work with Agent Skills.")
    skill_commands = skills.add_subparsers(required=True, metavar="ACTION")
    validate = skill_commands.add_parser(
        "validate", help="Check skills strictly against the spec; a folder is searched for skills."
    )
    validate.add_argument(
        "paths",
        nargs="+",
        type=Path,
        help="Skill folders, SKILL.md files, .skill files, or folders holding skills.",
    )
    validate.set_defaults(run=_validate)

    replay = commands.add_parser(
        "replay", help="Re-run a recorded notebook with no API key; report drift."
    )
    replay.add_argument("notebook", type=Path)
    replay.add_argument(
        "--backend", help="Run the tools on this backend instead of the recorded one."
    )
    replay.add_argument(
        "--strict", action="store_true", help="Exit with status 1 when any tool result drifted."
    )
    replay.add_argument("--output", type=Path, help="Also save the re-run notebook here.")
    replay.add_argument(
        "--timeout", type=int, default=600, help="Seconds allowed per cell (default 600)."
    )
    replay.add_argument(
        "--quiet", action="store_true", help="Print the drift report only, not the conversation."
    )
    replay.set_defaults(run=_replay)
    return parser


def _install(args: argparse.Namespace) -> int:
    from .notebook.kernelspec import install_kernelspec

    prefix = sys.prefix if args.sys_prefix else args.prefix
    path = install_kernelspec(user=args.user, prefix=prefix)
    print(f"installed the 'conjure' kernelspec in {path}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    """One verdict per skill: its problems, or ``PATH: valid``; a folder of skills is searched."""
    from .skills.discovery import skill_candidates
    from .skills.validation import validate_skill

    failed = False
    for path in args.paths:
        if not path.exists():
            print(f"{path}: no such file or folder", file=sys.stderr)
            failed = True
            continue
        is_one_skill = path.is_file() or (path / "SKILL.md").is_file()
        skills = [path] if is_one_skill else list(skill_candidates(path))
        if not skills:
            print(f"{path}: no SKILL.md or .skill file in this folder or below it", file=sys.stderr)
            failed = True
        for skill in skills:
            problems = validate_skill(skill)
            for problem in problems:
                print(problem)
            failed = failed or bool(problems)
            if not problems:
                print(f"{os.path.abspath(skill)}: valid")
    return 1 if failed else 0


def _replay(args: argparse.Namespace) -> int:
    from .notebook.replay_report import replay_notebook

    return replay_notebook(
        args.notebook,
        backend=args.backend,
        strict=args.strict,
        output=args.output,
        timeout=args.timeout,
        quiet=args.quiet,
    )
