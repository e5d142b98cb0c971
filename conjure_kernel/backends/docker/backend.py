"""The docker backend: the same chat as ``local``, with the tools in a sandbox container.

One container per session, made on first use from a local image, with no network,
memory, CPU and process limits, a non-root user, no capabilities and a read-only root
file system; what a tool can write is bounded too (tmpfs sizes, the workspace's disk
limit, no container log). Every limit is a setting, and ``%backend`` shows them all,
with what a tool can read, write and reach. The engine is
the local one, ``DOCKER_HOST``'s, or ``host=``'s; a remote engine keeps the workspace
in a volume and copies what commands change back to the host folder.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import docker.utils
from docker.models.images import Image

from ...errors import BackendSettingError
from ...skills.prompt import render_system_prompt
from ...skills.skill import Skill
from ...tools.workspace import WorkspaceTools
from ..base import ExecutorBackend, ExecutorSession, SessionOptions
from ..gate import PermissionMode
from ..local import host_workdir
from .engine import connect, engine_name, engine_room, require_image
from .images import (
    DEFAULT_VARIANT,
    RECIPE_LABEL,
    VARIANT_LABEL,
    VARIANT_TOOLS,
    image_tag,
    recipe_hash,
    variant_of,
)
from .programs import container_place
from .sandbox_spec import HOME, SKILLS_ROOT, WORKSPACE, SandboxSpec, sandbox_user, size_text
from .settings import DockerSettings
from .workspace import DockerWorkspace

__all__ = ["DockerBackend", "DockerSession", "sandbox_spec"]

_LOCAL_URLS = ("http+docker://localhost", "http+docker://localnpipe")
"""docker-py's base URLs for a unix socket and a Windows named pipe: engines on this host."""


@dataclass(kw_only=True)
class DockerSession(ExecutorSession):
    """One conversation's sandbox, described with every limit in force."""

    backend_type: str = "docker"
    workspace: DockerWorkspace
    timeout: float = 300.0
    image_note: str = ""
    """What to know about the image: built from an older recipe than this version's."""

    @property
    def paths(self) -> dict[str, str]:
        skills = {f"skill:{s.name}": f"{SKILLS_ROOT}/{s.name}" for s in self.skills}
        return {"workdir": WORKSPACE, **skills}

    async def ready_for_programs(self) -> None:
        """Make the container (a command makes it) before a program starts in it."""
        await self.workspace.exec("true", timeout=120, keep=1024)

    def describe(self) -> str:
        """Every limit in force, and what a tool can read, write and reach."""
        spec = self.workspace.spec
        uid, gid = spec.user
        where = (
            f"a volume copied back to {spec.workdir}"
            if spec.remote
            else f"{spec.workdir} mounted at {WORKSPACE}"
        )
        reach = (
            "no network (network=none)"
            if spec.network == "none"
            else "the network, through the engine's bridge (network=bridge)"
        )
        return (
            f"docker: sandbox {spec.image} on {engine_name(spec.host)}, workspace {where}; "
            f"user {uid}:{gid}, no capabilities\n{self.image_note}"
            f"  reads: the image (its root read-only), the skills read-only at {SKILLS_ROOT}, "
            "the workspace\n"
            f"  writes: {_workspace_bound(spec)}; {_tmpfs_bound(spec)}; no container log kept\n"
            f"  reaches: {reach}\n"
            f"  limits: memory={spec.memory} (swap included), cpus={spec.cpus:g}, "
            f"pids={spec.pids}, timeout={self.timeout:g} s"
        )


class DockerBackend(ExecutorBackend):
    """Runs the skill tools in a sandbox container through the Docker SDK."""

    backend_type: ClassVar[str] = "docker"
    permission_mode: ClassVar[PermissionMode] = "auto"
    """The sandbox is the safeguard: commands run without asking, since they reach only
    the container and the workspace folder."""
    settings_class: ClassVar[type[DockerSettings]] = DockerSettings

    async def open_session(self, skills: Sequence[Skill], options: SessionOptions) -> DockerSession:
        """Reach the engine and check the image now, so ``%backend docker`` fails at once
        with the reason; the container itself is made by the first tool call."""
        settings = DockerSettings.of(options.settings)
        workdir = host_workdir(settings.workdir)
        client = await asyncio.to_thread(connect, settings.host)
        try:
            image = await asyncio.to_thread(_check_engine, client, settings)
            labels = image.labels or {}
        except BaseException:
            client.close()
            raise
        remote = not client.api.base_url.startswith(_LOCAL_URLS)
        spec = sandbox_spec(
            settings, workdir, skills=skills, kernel_id=options.kernel_id, remote=remote
        )
        workspace = DockerWorkspace(client, spec)
        timeout = settings.timeout
        return DockerSession(
            workdir=workdir,
            workspace=workspace,
            leads_to=workspace.leads_to,
            environment={"image": spec.image, "image_id": image.id},
            mcp_place=container_place(workspace),
            timeout=timeout,
            image_note=_stale_note(spec.image, labels),
            skills=tuple(skills),
            executor=WorkspaceTools(
                workspace, timeout=timeout, max_output_chars=options.max_output_chars
            ),
            system_prompt=render_system_prompt(
                skills,
                location=lambda skill: f"{SKILLS_ROOT}/{skill.name}/SKILL.md",
                environment=_environment(spec, labels.get(VARIANT_LABEL)),
            ),
        )

    async def close(self, session: DockerSession) -> None:
        await super().close(session)
        session.workspace.client.close()


def sandbox_spec(
    settings: DockerSettings,
    workdir: Path,
    *,
    skills: Sequence[Skill] = (),
    kernel_id: str = "",
    remote: bool = False,
) -> SandboxSpec:
    """The sandbox a session with these settings gets, under a new sandbox id."""
    return SandboxSpec(
        image=image_tag(settings.image),
        memory=settings.memory,
        cpus=settings.cpus,
        pids=settings.pids,
        network=settings.network,
        host=settings.host,
        workdir=workdir,
        skills=tuple(skills),
        sandbox_id=secrets.token_hex(6),
        kernel_id=kernel_id,
        remote=remote,
        environment={"LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"},
        tmpfs=settings.tmpfs,
        disk=settings.disk,
    )


def _check_engine(client: docker.DockerClient, settings: DockerSettings) -> Image:
    """The image, once the engine is known to have the CPUs and memory asked for and the
    image: each is one line at ``%backend`` time, not a failure at the first tool call."""
    cpus, memory = engine_room(client, settings.host)
    where = engine_name(settings.host)
    if cpus and settings.cpus > cpus:
        raise BackendSettingError(
            f"cpus={settings.cpus:g}: more than the {cpus} CPUs of {where}",
            hint=f"choose at most cpus={cpus}",
        )
    if memory and docker.utils.parse_bytes(settings.memory) > memory:
        raise BackendSettingError(
            f"memory={settings.memory}: more than the {size_text(memory)} of memory of {where}",
            hint=f"choose at most memory={memory >> 20}m",
        )
    tag = image_tag(settings.image)
    return require_image(client, tag, settings.host, variant=variant_of(tag))


def _stale_note(image: str, labels: Mapping[str, str]) -> str:
    """A line for ``describe`` when an image built from this project's recipe (it has the
    label) was built from another version of it: it may lack what the guide says."""
    built = labels.get(RECIPE_LABEL)
    if built is None or built == recipe_hash():
        return ""
    variant = labels.get(VARIANT_LABEL) or variant_of(image) or DEFAULT_VARIANT
    tag = "" if variant_of(image) == variant else f" --tag {image}"
    return (
        f"  image: built from another recipe ({built}) than this version's ({recipe_hash()}); "
        f"rebuild it with `python -m conjure_kernel docker build --image {variant}{tag}`\n"
    )


def _workspace_bound(spec: SandboxSpec) -> str:
    """What bounds the workspace: on a local engine, the watched total and the file cap."""
    if spec.disk_bytes is None:
        return f"{WORKSPACE} without a limit (disk=none)"
    if spec.remote:
        return (
            f"{WORKSPACE}, no file over disk={spec.disk} (on a remote engine its total is not "
            "watched)"
        )
    return (
        f"{WORKSPACE} up to disk={spec.disk} in the session (a command that passes it is stopped)"
    )


def _tmpfs_bound(spec: SandboxSpec) -> str:
    """The memory-backed folders' sizes, and why ``tmpfs`` was cut if it was."""
    sizes = {folder: size_text(size) for folder, size in spec.tmpfs_sizes().items()}
    asked = docker.utils.parse_bytes(spec.tmpfs)
    cut = (
        f", cut from tmpfs={spec.tmpfs} to half of memory={spec.memory}"
        if asked > spec.tmpfs_bytes
        else ""
    )
    return (
        f"/tmp {sizes['/tmp']}, home {sizes[HOME]} and /dev/shm {sizes['/dev/shm']} "
        f"(tmpfs={size_text(spec.tmpfs_bytes)}, counted in memory{cut})"
    )


def _environment(spec: SandboxSpec, variant: str | None) -> str:
    network = "no network access" if spec.network == "none" else "network access"
    uid, _ = sandbox_user(spec.remote)
    tools = VARIANT_TOOLS.get(variant or "")
    has = f"It has {tools}. " if tools else f"What the image {spec.image} holds is not known. "
    if variant == "slim":
        has += "It has no LibreOffice (soffice) and no pandoc. "
    return (
        f"Your tools run in a sandbox container (Linux, bash, {network}, user id {uid}). {has}"
        f"The working directory is {WORKSPACE}; files you "
        f"create there are the user's. Skills are read-only under {SKILLS_ROOT}. Commands "
        "run in one shell that keeps its current directory and exported variables "
        "between calls."
    )
