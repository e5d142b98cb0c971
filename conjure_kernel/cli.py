"""``python -m conjure_kernel install | skills validate | replay``.

Kept apart from the kernel launcher so that the commands import only what they use.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m conjure_kernel", description="Conjure kernel tools."
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
    validate = skill_commands.add_parser("validate", help="Check skills strictly against the spec.")
    validate.add_argument(
        "paths", nargs="+", type=Path, help="Skill folders, SKILL.md files or .skill files."
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
    replay.set_defaults(run=_replay)
    return parser


def _install(args: argparse.Namespace) -> int:
    from .notebook.kernelspec import install_kernelspec

    prefix = sys.prefix if args.sys_prefix else args.prefix
    path = install_kernelspec(user=args.user, prefix=prefix)
    print(f"installed the 'conjure' kernelspec in {path}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from .skills.validation import validate_skill

    failed = False
    for path in args.paths:
        problems = validate_skill(path)
        for problem in problems:
            print(problem)
        if problems:
            failed = True
        else:
            print(f"{path}: valid")
    return 1 if failed else 0


def _replay(args: argparse.Namespace) -> int:
    from .notebook.replay_report import replay_notebook

    return replay_notebook(
        args.notebook,
        backend=args.backend,
        strict=args.strict,
        output=args.output,
        timeout=args.timeout,
    )
