"""The local backend: the four skill tools run with bash and files on this machine.

Commands run in a bubblewrap sandbox (``bwrap``: the host read-only but the workspace
and a private ``/tmp``, no network, their own processes) and the file tools keep to the
same mounts; ``sandbox=off`` runs them straight on the host, for trusted skills, with a
warning. This module opens the session: it reads the settings, starts the sandbox and
writes the system prompt; ``LocalWorkspace`` (local_workspace.py) is what a tool call
does on the host, under the shared ``WorkspaceTools`` dispatcher.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..errors import BackendError
from ..mcp.connection import StdioPlace
from ..skills.prompt import render_system_prompt
from ..skills.skill import Skill
from ..tools.workspace import WorkspaceTools
from .base import ExecutorBackend, ExecutorSession, SessionOptions
from .bwrap import Sandbox, private_tmp, sandbox_for
from .gate import PermissionMode
from .host_versions import describe_programs, host_versions
from .local_settings import LocalSettings
from .local_workspace import LocalWorkspace

__all__ = ["UNSANDBOXED", "LocalBackend", "LocalSession", "host_workdir"]


@dataclass(kw_only=True)
class LocalSession(ExecutorSession):
    """One conversation's working directory and executor on this machine."""

    backend_type: str = "local"
    timeout: float = 300.0
    pass_env: tuple[str, ...] = ()
    sandbox: Sandbox | None = None

    def describe(self) -> str:
        passed = f", pass_env={','.join(self.pass_env)}" if self.pass_env else ""
        settings = f"timeout={self.timeout:g} s{passed}"
        if self.sandbox is None:
            where = f"local: bash on this machine in {self.workdir} ({settings}, sandbox=off)"
            return f"{where}\n{UNSANDBOXED}"
        network = "on" if self.sandbox.network else "off"
        return "\n".join(
            [
                f"local: bash in a bubblewrap sandbox on this machine, in {self.workdir} "
                f"({settings}, network={network})",
                *self.sandbox.describe(),
            ]
        )


UNSANDBOXED = (
    "warning: no sandbox (sandbox=off): the tools read and write whatever you can, reach the "
    "network, and what they start can outlive the kernel"
)


class LocalBackend(ExecutorBackend):
    """Runs tools on this machine, in a bubblewrap sandbox unless sandbox=off."""

    backend_type: ClassVar[str] = "local"
    permission_mode: ClassVar[PermissionMode] = "auto"
    """With the default settings (sandbox on, network off) the sandbox is the safeguard,
    as docker's is; see ``permission_mode_for``."""
    settings_class: ClassVar[type[LocalSettings]] = LocalSettings

    def permission_mode_for(self, settings: LocalSettings) -> PermissionMode:
        """``auto`` in a sandbox without network: a command reaches only the workspace and
        its own ``/tmp``. ``ask`` otherwise: without a sandbox the tools touch the whole
        machine, and with the network a command could send the workspace anywhere."""
        return "auto" if settings.sandboxed and settings.network == "off" else "ask"

    async def open_session(self, skills: Sequence[Skill], options: SessionOptions) -> LocalSession:
        settings = LocalSettings.of(options.settings)
        workdir, timeout, pass_env = (
            host_workdir(settings.workdir),
            settings.timeout,
            settings.passed_env,
        )
        sandbox = None
        if settings.sandboxed:
            network = settings.network == "on"
            # the skills and the kernel's own Python stay visible where /tmp would hide them
            shown = [skill.root for skill in skills] + [Path(sys.prefix), Path(sys.base_prefix)]
            sandbox = await _open_sandbox(workdir, shown, network)
        workspace = LocalWorkspace(
            workdir,
            secret_env_vars=options.secret_env_vars,
            pass_env=frozenset(pass_env),
            mounts=None if sandbox is None else sandbox.mounts(),
            sandbox=sandbox,
        )
        executor = WorkspaceTools(
            workspace, timeout=timeout, max_output_chars=options.max_output_chars
        )
        versions = await asyncio.to_thread(host_versions)
        system_prompt = render_system_prompt(
            skills,
            location=lambda skill: str(skill.skill_md),
            environment=f"{_environment(workdir, sandbox)} {describe_programs(versions)}",
        )
        return LocalSession(
            workdir=workdir,
            timeout=timeout,
            pass_env=pass_env,
            sandbox=sandbox,
            skills=tuple(skills),
            executor=executor,
            system_prompt=system_prompt,
            opening_notice=UNSANDBOXED if sandbox is None else "",
            leads_to=workspace.leads_to,
            environment=versions,
            mcp_place=_mcp_place(workdir, sandbox),
        )


async def _open_sandbox(workdir: Path, skills: Sequence[Path], network: bool) -> Sandbox:
    """The session's sandbox with its private ``/tmp``, checked by starting it once."""
    tmp = private_tmp()
    try:
        sandbox = sandbox_for(workdir, tmp, skills=skills, network=network)
        await sandbox.probe()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sandbox


def _mcp_place(workdir: Path, sandbox: Sandbox | None) -> StdioPlace:
    """Where a stdio MCP server starts: in the sandbox the commands run in, if there is one."""
    if sandbox is None:
        return StdioPlace(cwd=str(workdir))
    return StdioPlace(sandbox.program_argv, str(workdir), "in the local sandbox")


def _environment(workdir: Path, sandbox: Sandbox | None) -> str:
    """What the system prompt tells Claude about where its tools run."""
    where = (
        "Your tools run bash commands and view and edit files on the user's machine, "
        f"in the working directory {workdir}."
    )
    if sandbox is None:
        return where
    network = "" if sandbox.network else " There is no network."
    return (
        f"{where} They run in a sandbox: only the working directory and /tmp are writable, "
        f"the rest of the machine is read-only.{network}"
    )


def host_workdir(setting: str | None) -> Path:
    """The working folder a ``workdir`` setting names (the cwd when empty); it must exist."""
    workdir = Path(setting or Path.cwd()).expanduser().absolute()
    if not workdir.is_dir():
        raise BackendError(
            f"the working directory {workdir} does not exist or is not a folder",
            hint="create it, or choose an existing folder as the working directory",
        )
    return workdir
