"""``python -m conjure_kernel kernel | install | skills validate|list|upload|delete | replay |
docker build|ps|gc``.

Kept apart from the kernel so that each command imports only what it uses. The
kernelspec starts the kernel with the explicit ``kernel`` command; anything that is
not a known command gets the usage and exit status 2, never a kernel waiting for a
connection that will not come.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConjureError

if TYPE_CHECKING:
    from .clients.anthropic_client import AnthropicClient
    from .skills.skill import Diagnostic

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
        _print_error(error)
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
    listing = skill_commands.add_parser(
        "list", help="List the skills on Anthropic's side: your custom ones and Anthropic's."
    )
    listing.add_argument(
        "--source", choices=("custom", "anthropic"), help="Only the skills of this source."
    )
    listing.set_defaults(run=_list_remote)
    upload = skill_commands.add_parser(
        "upload",
        help="Upload skills to Anthropic for the anthropic backend: once per content; "
        "a changed skill becomes a new version.",
    )
    upload.add_argument(
        "paths", nargs="+", type=Path, help="Skill folders, SKILL.md files or .skill files."
    )
    upload.set_defaults(run=_upload)
    delete = skill_commands.add_parser(
        "delete", help="Delete custom skills from Anthropic, with all their versions."
    )
    delete.add_argument("skill_ids", nargs="+", metavar="ID", help="skill_… ids (see list).")
    delete.set_defaults(run=_delete)

    replay = commands.add_parser(
        "replay", help="Re-run a recorded notebook with no API key; report drift."
    )
    replay.add_argument("notebook", type=Path)
    replay.add_argument(
        "--backend",
        metavar="NAME",
        help="Run the tools on this backend, whatever the notebook's %%backend cells say "
        "(they are overridden); the report names the backend of each turn.",
    )
    replay.add_argument(
        "--strict", action="store_true", help="Exit with status 1 when any tool result drifted."
    )
    replay.add_argument(
        "--live",
        action="store_true",
        help="Re-run recorded MCP calls on their servers where they run here (else they are "
        "answered as recorded).",
    )
    replay.add_argument("--output", type=Path, help="Also save the re-run notebook here.")
    replay.add_argument(
        "--timeout", type=int, default=600, help="Seconds allowed per cell (default 600)."
    )
    replay.add_argument(
        "--quiet", action="store_true", help="Print the drift report only, not the conversation."
    )
    replay.set_defaults(run=_replay)

    docker = commands.add_parser("docker", help="Manage the docker backend's sandbox.")
    docker_commands = docker.add_subparsers(required=True, metavar="ACTION")
    build = docker_commands.add_parser(
        "build", help="Build a sandbox image the docker backend runs tools in."
    )
    build.add_argument(
        "--offline",
        action="store_true",
        help="Build without a registry: mmdebstrap from Debian's mirror, then docker import.",
    )
    build.add_argument(
        "--image",
        choices=("slim", "full"),
        help="full (the default): slim plus LibreOffice and pandoc; slim: Python with the "
        "document libraries, poppler, qpdf, Node.js with docx and pptxgenjs.",
    )
    build.add_argument(
        "--tag",
        help="Image tag (default: conjure-sandbox:IMAGE); conjure-sandbox:slim or :full "
        "stands for --image too.",
    )
    build.set_defaults(run=_docker_build)
    listing = docker_commands.add_parser(
        "ps", help="List the sandboxes of conjure kernels on the engine, orphans marked."
    )
    listing.set_defaults(run=_docker_ps)
    collect = docker_commands.add_parser(
        "gc", help="Remove sandboxes whose kernel is gone (and the volumes no sandbox uses)."
    )
    collect.add_argument(
        "--all", action="store_true", help="Remove every conjure sandbox, live kernels' too."
    )
    collect.set_defaults(run=_docker_gc)
    for action in (build, listing, collect):
        action.add_argument(
            "--host",
            metavar="URL",
            help="Docker engine to use (default: DOCKER_HOST or the local one).",
        )
    _add_doctor(commands)
    return parser


def _install(args: argparse.Namespace) -> int:
    from .notebook.kernelspec import install_kernelspec

    prefix = sys.prefix if args.sys_prefix else args.prefix
    path = install_kernelspec(user=args.user, prefix=prefix)
    print(f"installed the 'conjure' kernelspec in {path}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    """One verdict per skill: its problems, or ``PATH: valid``; a folder of skills is searched.

    A path that cannot be searched, or an archive that cannot be read, is one line among
    the verdicts, and the rest are still checked.
    """
    from .skills.discovery import skill_candidates

    failed = False
    for path in args.paths:
        is_one_skill = path.is_file() or (path / "SKILL.md").is_file()
        found = [path] if is_one_skill else list(skill_candidates(path))
        if not found:
            print(f"{path}: no SKILL.md or .skill file in this folder or below it", file=sys.stderr)
            failed = True
        for candidate in found:
            failed = _print_verdict(candidate) or failed
    return 1 if failed else 0


def _print_verdict(candidate: Path | Diagnostic) -> bool:
    """Print a skill's problems, or that it is valid; whether it had problems."""
    from .skills.skill import Diagnostic
    from .skills.validation import validate_skill

    if isinstance(candidate, Diagnostic):
        print(candidate, file=sys.stderr if candidate.severity == "error" else sys.stdout)
        return True
    try:
        problems = [str(problem) for problem in validate_skill(candidate)]
    except ConjureError as error:  # an archive that is unsafe, corrupt or unreadable
        problems = [str(error)]
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{os.path.abspath(candidate)}: valid")
    return bool(problems)


def _list_remote(args: argparse.Namespace) -> int:
    from .clients.skills_api import remote_listing

    return _with_client(lambda client: _print_lines(remote_listing(client, args.source)))


def _upload(args: argparse.Namespace) -> int:
    from .clients.skills_api import upload_path

    return _each(args.paths, upload_path)


def _delete(args: argparse.Namespace) -> int:
    from .clients.skills_api import delete_remote

    return _each(args.skill_ids, delete_remote)


def _each(items: Sequence[Any], action: Callable[[AnthropicClient, Any], Awaitable[str]]) -> int:
    """``action`` on each item in turn, printing what it returns; a failure is printed
    and the rest still run, and then the exit status is 1."""

    async def run(client: AnthropicClient) -> int:
        failed = False
        for item in items:
            try:
                print(await action(client, item))
            except ConjureError as error:
                _print_error(error)
                failed = True
        return 1 if failed else 0

    return _with_client(run)


async def _print_lines(lines: Awaitable[list[str]]) -> int:
    print("\n".join(await lines))
    return 0


def _with_client(work: Callable[[AnthropicClient], Awaitable[int]]) -> int:
    """Run ``work`` with a model client configured from the environment, then close it."""
    from .clients.anthropic_client import AnthropicClient

    async def run() -> int:
        client = AnthropicClient()
        try:
            return await work(client)
        finally:
            await client.aclose()

    return asyncio.run(run())


def _docker_build(args: argparse.Namespace) -> int:
    from .backends.docker.images import build_image, variant_of

    tag = build_image(args.image, args.tag, offline=args.offline, host=args.host)
    print(f"built {tag}: use it with %backend docker image={variant_of(tag) or tag}")
    return 0


def _docker_ps(args: argparse.Namespace) -> int:
    from .backends.docker.engine import connect, list_sandboxes

    found = list_sandboxes(connect(args.host or ""))
    if not found:
        print("no conjure sandboxes")
        return 0
    print(f"{'NAME':<28} {'STATUS':<10} {'AGE':>8}  {'OWNER':<24} KERNEL")
    for box in found:
        status = f"{box.status}*" if box.orphaned else box.status
        age = f"{box.age / 60:.0f} min" if box.age < 7200 else f"{box.age / 3600:.0f} h"
        print(f"{box.name:<28} {status:<10} {age:>8}  {box.owner:<24} {box.kernel_id}")
    if any(box.orphaned for box in found):
        print("* orphaned: its kernel is gone; `python -m conjure_kernel docker gc` removes it")
    return 0


def _docker_gc(args: argparse.Namespace) -> int:
    from .backends.docker.engine import collect_garbage, connect

    removed = collect_garbage(connect(args.host or ""), everything=args.all)
    print(f"removed {len(removed)}: {', '.join(removed)}" if removed else "nothing to remove")
    return 0


def _print_error(error: ConjureError) -> None:
    print(f"error: {error}", file=sys.stderr)
    if error.hint:
        print(f"hint: {error.hint}", file=sys.stderr)


def _replay(args: argparse.Namespace) -> int:
    from .notebook.replay_report import replay_notebook

    return replay_notebook(
        args.notebook,
        backend=args.backend,
        strict=args.strict,
        live=args.live,
        output=args.output,
        timeout=args.timeout,
        quiet=args.quiet,
    )


def _add_doctor(commands: argparse._SubParsersAction) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="Say what skills need (programs, Python modules, npm packages), whether each "
        "backend has it, and the commands that would add what is missing.",
    )
    doctor.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="SKILL",
        help="Skill folders, SKILL.md or .skill files, or folders holding skills "
        "(default: those CONJURE_SKILLS_PATH names).",
    )
    doctor.add_argument(
        "--backend",
        action="append",
        dest="backends",
        metavar="NAME",
        help="Check only this backend: local, docker, anthropic or native (repeat for more; "
        "default: all four).",
    )
    doctor.add_argument(
        "--image", default="", help="Docker image to probe: slim, full or a tag (default: full)."
    )
    doctor.add_argument(
        "--host",
        metavar="URL",
        default="",
        help="Docker engine to use (default: DOCKER_HOST or the local one).",
    )
    doctor.set_defaults(run=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    """The doctor's report; skills that could not be loaded are named on stderr, and make
    the exit status 1."""
    from .doctor import BACKENDS, check_skills
    from .errors import SkillError
    from .skills.discovery import find_skills

    configured = os.environ.get("CONJURE_SKILLS_PATH", "").split(os.pathsep)
    paths = args.paths or [path for path in configured if path]
    if not paths:
        raise SkillError(
            "no skills to check", hint="name skill folders, or set CONJURE_SKILLS_PATH"
        )
    found = find_skills(paths)
    for problem in found.problems:
        print(f"skill {problem.severity}: {problem}", file=sys.stderr)
    if not found.skills:
        print(f"no skills found in {', '.join(map(str, paths))}", file=sys.stderr)
        return 1
    report = check_skills(
        found.skills, backends=args.backends or BACKENDS, image=args.image, host=args.host
    )
    print(report)
    return 1 if any(problem.severity == "error" for problem in found.problems) else 0
