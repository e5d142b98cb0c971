"""The docker backend on a remote engine: the workspace in a volume, copied back to the host.

A second dockerd on a loopback TCP port (tests/docker_support.py) stands in for a team's
engine: it shares no folders with this kernel, so everything the sandbox sees of the host
folder was copied in, and everything the host sees of the sandbox's work was copied back.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import stat
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import docker
import pytest
from docker_support import IMAGE, engine_with_image, sandboxes, second_engine, wait_until

from conjure_kernel.backends.base import SessionOptions
from conjure_kernel.backends.docker.backend import DockerBackend, DockerSession
from conjure_kernel.backends.docker.engine import LABEL
from conjure_kernel.backends.docker.sandbox_spec import SandboxSpec
from conjure_kernel.backends.docker.workspace import DockerWorkspace
from conjure_kernel.skills.skill import Skill, SkillMetadata
from conjure_kernel.tools.values import ToolCall, ToolResult
from conjure_kernel.tools.workspace import WorkspaceTools

KEEP = 4000
T = TypeVar("T")


@pytest.fixture(scope="module")
def local() -> docker.DockerClient:
    return engine_with_image()


@pytest.fixture(scope="module")
def address(local: docker.DockerClient) -> Iterator[str]:
    with second_engine(local) as found:
        yield found


@pytest.fixture(scope="module")
def remote(address: str) -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=address, timeout=120)
    yield client
    client.close()


def remote_spec(address: str, workdir: Path, skills: tuple[Skill, ...] = ()) -> SandboxSpec:
    return SandboxSpec(
        image=IMAGE,
        memory="512m",
        cpus=1.0,
        pids=256,
        network="none",
        host=address,
        workdir=workdir,
        skills=skills,
        sandbox_id=secrets.token_hex(6),
        kernel_id="test",
        remote=True,
    )


def in_sandbox(
    address: str, spec: SandboxSpec, scenario: Callable[[DockerWorkspace], Awaitable[T]]
) -> T:
    """Run ``scenario`` with a workspace on the remote engine, on one event loop, then
    remove the sandbox (as a session's end does)."""

    async def run() -> T:
        client = docker.DockerClient(base_url=address, timeout=120)
        workspace = DockerWorkspace(client, spec)
        try:
            return await scenario(workspace)
        finally:
            await workspace.aclose()
            client.close()

    return asyncio.run(run())


async def sh(workspace: DockerWorkspace, command: str) -> str:
    """Run a command that must succeed; its stdout."""
    result = await workspace.exec(command, timeout=60, keep=KEEP)
    assert result.exit_code == 0, (command, result.stderr)
    return result.stdout


async def tool(tools: WorkspaceTools, name: str, **arguments: Any) -> ToolResult:
    return await tools.run(ToolCall(secrets.token_hex(4), name, arguments))


def make_skill(root: Path) -> Skill:
    folder = root / "greeter"
    (folder / "scripts").mkdir(parents=True)
    (folder / "SKILL.md").write_text("---\nname: greeter\ndescription: Greets.\n---\nGreet.\n")
    (folder / "scripts" / "greet.py").write_text("print('hello')\n")
    return Skill(SkillMetadata("greeter", "Greets."), folder)


def owned_by_kernel_user(path: Path) -> bool:
    info = path.stat()
    return (info.st_uid, info.st_gid) == (os.getuid(), os.getgid())


def session_volumes(client: docker.DockerClient, session: str) -> list[str]:
    return [v.name for v in client.volumes.list(filters={"label": f"{LABEL}={session}"})]


def test_the_host_folder_is_copied_into_a_volume_on_the_engine(address, remote, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.txt").write_text("from the host\n")
    spec = remote_spec(address, tmp_path)

    async def scenario(ws: DockerWorkspace) -> tuple[str, dict]:
        shown = await sh(ws, "cat data/in.txt; id -u; stat -c %u data/in.txt")
        return shown, remote.api.inspect_container(ws.container)

    shown, info = in_sandbox(address, spec, scenario)
    assert shown == "from the host\n1000\n1000\n"
    mounts = {mount["Destination"]: mount for mount in info["Mounts"]}
    assert mounts["/workspace"]["Type"] == "volume" and mounts["/workspace"]["RW"]
    assert not [mount for mount in info["Mounts"] if mount["Type"] == "bind"]


def test_files_a_command_makes_or_changes_are_copied_back_to_the_host(address, tmp_path):
    (tmp_path / "keep.txt").write_text("one\n")
    (tmp_path / "untouched.txt").write_text("same\n")
    untouched_before = (tmp_path / "untouched.txt").stat().st_mtime_ns

    async def scenario(ws: DockerWorkspace) -> None:
        await sh(
            ws,
            "echo two >> keep.txt && echo top > top.txt && "
            "mkdir -p out/deep && printf 'report' > out/deep/report.txt",
        )
        # each call copies back what it changed, whatever earlier calls did
        await sh(ws, "echo three >> keep.txt")

    in_sandbox(address, remote_spec(address, tmp_path), scenario)
    assert (tmp_path / "keep.txt").read_text() == "one\ntwo\nthree\n"
    assert (tmp_path / "top.txt").read_text() == "top\n"
    assert (tmp_path / "out" / "deep" / "report.txt").read_text() == "report"
    for path in ("keep.txt", "top.txt", "out", "out/deep", "out/deep/report.txt"):
        assert owned_by_kernel_user(tmp_path / path), path
    assert (tmp_path / "untouched.txt").stat().st_mtime_ns == untouched_before


def test_files_whose_times_a_command_kept_are_copied_back_too(address, tmp_path):
    """``mv``, ``cp -p``, ``tar x``, ``unzip`` keep a file's old modification time: what
    marks them as changed is the inode's change time."""
    (tmp_path / "draft.txt").write_text("draft\n")
    (tmp_path / "tool.sh").write_text("echo tool\n")

    async def scenario(ws: DockerWorkspace) -> None:
        await sh(
            ws,
            "mv draft.txt final.txt && cp -p tool.sh copy.sh && "
            "echo old > dated.txt && touch -d 2001-01-01 dated.txt",
        )

    in_sandbox(address, remote_spec(address, tmp_path), scenario)
    assert (tmp_path / "final.txt").read_text() == "draft\n"
    assert (tmp_path / "copy.sh").read_text() == "echo tool\n"
    assert (tmp_path / "dated.txt").read_text() == "old\n"


def test_the_executable_bit_a_command_sets_reaches_the_host(address, tmp_path):
    (tmp_path / "tool.sh").write_text("#!/bin/sh\necho tool\n")

    async def scenario(ws: DockerWorkspace) -> None:
        await sh(ws, "printf '#!/bin/sh\\necho run\\n' > run.sh && chmod +x run.sh tool.sh")

    in_sandbox(address, remote_spec(address, tmp_path), scenario)
    for name in ("run.sh", "tool.sh"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) & 0o100, name


def test_a_command_that_ends_the_shell_still_has_its_files_copied_back(address, tmp_path):
    async def scenario(ws: DockerWorkspace) -> str:
        await ws.exec("echo saved > last.txt; exit 0", timeout=60, keep=KEEP)
        return await sh(ws, "cat last.txt")

    assert in_sandbox(address, remote_spec(address, tmp_path), scenario) == "saved\n"
    assert (tmp_path / "last.txt").read_text() == "saved\n"


def test_copying_back_never_writes_through_a_host_link_out_of_the_folder(address, tmp_path):
    """The sandbox never saw the host's links (they are not copied in): a file it makes
    under the same name must not land where the link points."""
    workdir, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    workdir.mkdir()
    elsewhere.mkdir()
    (elsewhere / "target.txt").write_text("original\n")
    (workdir / "outside").symlink_to(elsewhere)
    (workdir / "link.txt").symlink_to(elsewhere / "target.txt")

    async def scenario(ws: DockerWorkspace) -> ToolResult:
        await ws.exec(
            "mkdir -p outside && echo x > outside/leak.txt; echo changed > link.txt",
            timeout=60,
            keep=KEEP,
        )
        tools = WorkspaceTools(ws, timeout=60, max_output_chars=KEEP)
        return await tool(tools, "create_file", path="outside/leak2.txt", file_text="x")

    in_sandbox(address, remote_spec(address, workdir), scenario)
    assert sorted(p.name for p in elsewhere.iterdir()) == ["target.txt"]
    assert (elsewhere / "target.txt").read_text() == "original\n"


def test_file_tools_work_in_the_volume_and_reach_the_host_copy(address, tmp_path):
    (tmp_path / "keep.txt").write_text("alpha\nbeta\n")

    async def scenario(ws: DockerWorkspace) -> tuple[list[ToolResult], str]:
        tools = WorkspaceTools(ws, timeout=60, max_output_chars=KEEP)
        results = [
            await tool(tools, "create_file", path="notes/new.md", file_text="# Notes\nfirst\n"),
            await tool(tools, "str_replace", path="keep.txt", old_str="beta", new_str="gamma"),
            await tool(tools, "view", path="notes/new.md"),
            await tool(tools, "view", path="."),
            await tool(tools, "create_file", path="/tmp/scratch.txt", file_text="scratch"),
        ]
        return results, await sh(ws, "cat notes/new.md keep.txt; stat -c %u notes/new.md")

    results, in_container = in_sandbox(address, remote_spec(address, tmp_path), scenario)
    viewed, listed = results[2:4]
    assert not any(result.is_error for result in results), results
    assert "first" in viewed.content
    assert "notes/" in listed.content and "keep.txt" in listed.content
    assert in_container == "# Notes\nfirst\nalpha\ngamma\n1000\n"
    assert (tmp_path / "notes" / "new.md").read_text() == "# Notes\nfirst\n"
    assert (tmp_path / "keep.txt").read_text() == "alpha\ngamma\n"
    for path in ("notes", "notes/new.md", "keep.txt"):
        assert owned_by_kernel_user(tmp_path / path), path
    assert not (tmp_path / "tmp").exists() and not (tmp_path / "scratch.txt").exists()


def test_skills_are_in_a_read_only_volume(address, tmp_path):
    skill = make_skill(tmp_path / "skills")
    workdir = tmp_path / "work"
    workdir.mkdir()

    async def scenario(ws: DockerWorkspace) -> tuple[str, Any, list[ToolResult]]:
        shown = await sh(
            ws, "cat /mnt/skills/greeter/SKILL.md; python3 /mnt/skills/greeter/scripts/greet.py"
        )
        touched = await ws.exec("touch /mnt/skills/greeter/x", timeout=60, keep=KEEP)
        tools = WorkspaceTools(ws, timeout=60, max_output_chars=KEEP)
        results = [
            await tool(tools, "view", path="/mnt/skills/greeter/SKILL.md"),
            await tool(tools, "create_file", path="/mnt/skills/greeter/SKILL.md", file_text="x"),
        ]
        return shown, touched, results

    spec = remote_spec(address, workdir, (skill,))
    shown, touched, (viewed, edit) = in_sandbox(address, spec, scenario)
    assert "name: greeter" in shown and shown.endswith("hello\n")
    assert touched.exit_code != 0 and "Read-only file system" in touched.stderr
    assert not viewed.is_error and "Greet." in viewed.content
    assert edit.is_error and "Read-only file system" in edit.content
    assert "Greet." in (skill.root / "SKILL.md").read_text()
    assert not (workdir / "greeter").exists()


def test_the_sandbox_lives_on_the_remote_engine_only_and_goes_with_the_session(
    address, local, remote, tmp_path
):
    skill = make_skill(tmp_path / "skills")
    workdir = tmp_path / "work"
    workdir.mkdir()
    spec = remote_spec(address, workdir, (skill,))

    async def scenario(ws: DockerWorkspace) -> dict[str, list]:
        await sh(ws, "true")
        return {
            "remote containers": [c.id for c in sandboxes(remote, spec.sandbox_id)],
            "remote volumes": session_volumes(remote, spec.sandbox_id),
            "local containers": sandboxes(local, spec.sandbox_id),
            "local volumes": session_volumes(local, spec.sandbox_id),
        }

    during = in_sandbox(address, spec, scenario)
    assert len(during["remote containers"]) == 1  # the skills' loader is gone already
    assert len(during["remote volumes"]) == 2
    assert during["local containers"] == during["local volumes"] == []
    assert wait_until(lambda: not sandboxes(remote, spec.sandbox_id))
    assert wait_until(lambda: not session_volumes(remote, spec.sandbox_id))


async def open_docker_session(
    skills: tuple[Skill, ...], workdir: Path, **given: str
) -> DockerSession:
    settings = DockerBackend.settings_class.parse({"workdir": str(workdir), **given})
    return await DockerBackend().open_session(skills, SessionOptions(settings=settings))


def test_the_backend_treats_a_tcp_engine_as_remote(address, remote, tmp_path):
    skill = make_skill(tmp_path / "skills")
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "in.txt").write_text("seed\n")

    async def scenario() -> tuple[bool, str, ToolResult, str]:
        backend = DockerBackend()
        session = await open_docker_session((skill,), workdir, host=address)
        try:
            result = await session.executor.run(
                ToolCall(
                    "t1",
                    "bash_tool",
                    {"command": "cat in.txt /mnt/skills/greeter/SKILL.md > out.txt; id -u"},
                )
            )
            return session.workspace.spec.remote, session.describe(), result, session.system_prompt
        finally:
            await backend.close(session)
            assert wait_until(lambda: not sandboxes(remote, session.workspace.spec.sandbox_id))
            assert not session_volumes(remote, session.workspace.spec.sandbox_id)

    is_remote, described, result, prompt = asyncio.run(scenario())
    assert is_remote
    assert f"on {address}" in described and f"a volume copied back to {workdir}" in described
    assert "user 1000:1000" in described
    assert not result.is_error and result.content.startswith("1000\n")
    assert (workdir / "out.txt").read_text().startswith("seed\n---\nname: greeter")
    assert "user id 1000" in prompt


def test_docker_host_naming_a_tcp_engine_is_remote_too(address, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", address)

    async def scenario() -> tuple[bool, str]:
        session = await open_docker_session((), tmp_path)
        try:
            return session.workspace.spec.remote, session.describe()
        finally:
            await DockerBackend().close(session)

    is_remote, described = asyncio.run(scenario())
    assert is_remote and f"on {address}" in described and "volume" in described


@pytest.mark.parametrize("host", ["", "unix:///var/run/docker.sock"])
def test_the_local_engine_bind_mounts_the_folder(local, monkeypatch, tmp_path, host):
    monkeypatch.delenv("DOCKER_HOST", raising=False)

    async def scenario() -> tuple[bool, str]:
        session = await open_docker_session((), tmp_path, host=host)
        try:
            return session.workspace.spec.remote, session.describe()
        finally:
            await DockerBackend().close(session)

    is_remote, described = asyncio.run(scenario())
    assert not is_remote and f"{tmp_path} mounted at /workspace" in described
