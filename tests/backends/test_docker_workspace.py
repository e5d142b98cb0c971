"""The docker backend's workspace against a real engine: the shell, the limits, the files.

Nothing here mocks Docker: each test makes a sandbox on the local engine (see
tests/docker_support.py for when that skips or fails).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from docker_support import (
    IMAGE,
    Heard,
    container_processes,
    engine_with_image,
    in_sandbox,
    sandboxes,
    spec_for,
    wait_until,
)

from conjure_kernel.backends.docker.ownership import open_to_group
from conjure_kernel.backends.docker.workspace import DockerWorkspace
from conjure_kernel.skills.skill import Skill, SkillMetadata
from conjure_kernel.tools.decisions import Decided, decided
from conjure_kernel.tools.values import ToolCall
from conjure_kernel.tools.workspace import WorkspaceTools

KEEP = 4000


@pytest.fixture(scope="module")
def client():
    return engine_with_image()


def make_skill(root: Path) -> Skill:
    folder = root / "greeter"
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text("---\nname: greeter\ndescription: Greets.\n---\nGreet.\n")
    return Skill(SkillMetadata("greeter", "Greets."), folder)


def test_shell_state_carries_over_between_commands(client, tmp_path):
    async def scenario(ws: DockerWorkspace):
        await ws.exec(
            "cd /tmp && export GREETING=hi && shout() { echo ${1^^}; }", timeout=30, keep=KEEP
        )
        return await ws.exec('pwd; echo $GREETING; shout "$GREETING"', timeout=30, keep=KEEP)

    result = in_sandbox(client, spec_for(tmp_path), scenario)
    assert (result.exit_code, result.stdout) == (0, "/tmp\nhi\nHI\n")


def test_a_command_judged_by_the_rules_runs_in_a_new_shell_untouched_by_earlier_ones(
    client, tmp_path
):
    """Earlier commands redefine ``ls`` (a function, an alias, PATH): a command that the
    permission rules read as ``ls`` runs the real ``ls``, and the kept shell keeps them."""
    (tmp_path / "mine.txt").write_text("x")
    evil = "mkdir -p /tmp/bin && printf '#!/bin/sh\\ntouch /workspace/PATHED\\n' > /tmp/bin/ls"

    async def scenario(ws: DockerWorkspace):
        await ws.exec(
            f"{evil} && chmod +x /tmp/bin/ls && export PATH=/tmp/bin:$PATH && "
            "shopt -s expand_aliases && alias cat='touch /workspace/ALIASED; cat' && "
            "ls() { touch /workspace/FUNCTION; }",
            timeout=30,
            keep=KEEP,
        )
        with decided(Decided(fresh_shell=True)):
            judged = await ws.exec("ls; cat mine.txt; pwd", timeout=30, keep=KEEP)
        kept = await ws.exec("type -t ls; echo $PATH", timeout=30, keep=KEEP)
        return judged, kept

    judged, kept = in_sandbox(client, spec_for(tmp_path), scenario)
    assert judged.stdout == "mine.txt\nx/workspace\n", judged
    assert not {"PATHED", "ALIASED", "FUNCTION"} & {p.name for p in tmp_path.iterdir()}
    assert kept.stdout.startswith("function\n/tmp/bin:")


def test_commands_run_in_the_container_as_a_non_root_user(client, tmp_path):
    async def scenario(ws: DockerWorkspace):
        result = await ws.exec(
            "id -u; hostname; pwd; cat /proc/1/cmdline | tr '\\0' ' '", timeout=30, keep=KEEP
        )
        return result, ws.container

    result, container = in_sandbox(client, spec_for(tmp_path), scenario)
    uid, hostname, cwd, init = result.stdout.splitlines()
    assert uid != "0"
    assert container.startswith(hostname)
    assert cwd == "/workspace"
    assert "docker-init" in init


def test_files_made_in_the_sandbox_belong_to_the_person_running_the_kernel(client, tmp_path):
    async def scenario(ws: DockerWorkspace):
        await ws.exec("mkdir -p out && echo made > out/report.txt", timeout=30, keep=KEEP)
        tools = WorkspaceTools(ws, timeout=30, max_output_chars=KEEP)
        await tools.run(ToolCall("t1", "create_file", {"path": "notes.md", "file_text": "hi"}))
        # and the sandbox can still change both afterwards
        return await ws.exec(
            "echo more >> out/report.txt && echo more >> notes.md", timeout=30, keep=KEEP
        )

    result = in_sandbox(client, spec_for(tmp_path), scenario)
    assert result.exit_code == 0, result.stderr
    for path in (tmp_path / "out", tmp_path / "out" / "report.txt", tmp_path / "notes.md"):
        assert (path.stat().st_uid, path.stat().st_gid) == (os.getuid(), os.getgid()), path
    assert (tmp_path / "out" / "report.txt").read_text() == "made\nmore\n"


def test_skills_are_mounted_read_only(client, tmp_path):
    skill = make_skill(tmp_path / "skills")
    workdir = tmp_path / "work"
    workdir.mkdir()

    async def scenario(ws: DockerWorkspace):
        shown = await ws.exec("cat /mnt/skills/greeter/SKILL.md", timeout=30, keep=KEEP)
        touched = await ws.exec("touch /mnt/skills/greeter/x", timeout=30, keep=KEEP)
        tools = WorkspaceTools(ws, timeout=30, max_output_chars=KEEP)
        edit = await tools.run(
            ToolCall(
                "t1", "create_file", {"path": "/mnt/skills/greeter/SKILL.md", "file_text": "x"}
            )
        )
        return shown, touched, edit

    shown, touched, edit = in_sandbox(client, spec_for(workdir, [skill]), scenario)
    assert "name: greeter" in shown.stdout
    assert touched.exit_code != 0 and "Read-only file system" in touched.stderr
    assert edit.is_error and "Read-only file system" in edit.content
    assert "Greet." in (skill.root / "SKILL.md").read_text()


def test_the_network_is_off_by_default_and_on_with_bridge(client, tmp_path):
    probe = "cat /sys/class/net/*/operstate | sort | tr '\\n' ' '; ls /sys/class/net"

    async def scenario(ws: DockerWorkspace):
        return await ws.exec(probe, timeout=30, keep=KEEP)

    assert in_sandbox(client, spec_for(tmp_path), scenario).stdout.split()[-1] == "lo"
    interfaces = in_sandbox(client, spec_for(tmp_path, network="bridge"), scenario).stdout
    assert "eth0" in interfaces


def test_every_limit_is_applied_to_the_container(client, tmp_path):
    spec = spec_for(tmp_path, memory="300m", cpus=0.5, pids=64)

    async def scenario(ws: DockerWorkspace):
        await ws.exec("true", timeout=30, keep=KEEP)
        return client.api.inspect_container(ws.container)

    info = in_sandbox(client, spec, scenario)
    host = info["HostConfig"]
    assert host["Memory"] == host["MemorySwap"] == 300 * 1024 * 1024
    assert host["NanoCpus"] == 500_000_000
    assert host["PidsLimit"] == 64
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert "/tmp" in host["Tmpfs"]
    assert host["Init"] is True and host["AutoRemove"] is True
    assert not info["Config"]["User"].startswith("0:")
    assert info["Config"]["Labels"]["conjure.sandbox"] == spec.sandbox_id
    assert {"conjure.kernel", "conjure.owner-pid", "conjure.created"} <= set(
        info["Config"]["Labels"]
    )


def test_a_timeout_kills_the_command_and_its_children_and_keeps_the_shell(client, tmp_path):
    async def scenario(ws: DockerWorkspace):
        await ws.exec("cd /tmp; export KEPT=yes", timeout=30, keep=KEEP)
        slow = await ws.exec(
            "echo started; (sleep 300 | cat) & sleep 300; echo never", timeout=1, keep=KEEP
        )
        busy = await ws.exec("while :; do :; done; echo never", timeout=1, keep=KEEP)
        after = await ws.exec("pwd; echo $KEPT", timeout=30, keep=KEEP)
        return slow, busy, after, container_processes(client, ws.container)

    slow, busy, after, processes = in_sandbox(client, spec_for(tmp_path), scenario)
    assert slow.timed_out and slow.stdout == "started\n"
    assert busy.timed_out and "never" not in busy.stdout
    assert after.stdout == "/tmp\nyes\n"
    assert not [p for p in processes if p.startswith("sleep")], processes
    assert [p for p in processes if p.startswith("cat")] == ["cat"], processes  # the switch only


def test_cancelling_a_call_stops_it_within_seconds(client, tmp_path):
    async def scenario(ws: DockerWorkspace):
        await ws.exec("true", timeout=30, keep=KEEP)
        call = asyncio.ensure_future(ws.exec("sleep 120; echo never", timeout=300, keep=KEEP))
        await asyncio.sleep(0.5)
        call.cancel()
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(asyncio.CancelledError):
            await call
        stopped_in = loop.time() - started
        following = await ws.exec("echo next", timeout=30, keep=KEEP)
        return stopped_in, following, container_processes(client, ws.container)

    stopped_in, following, processes = in_sandbox(client, spec_for(tmp_path), scenario)
    assert stopped_in < 10, "the cancelled call did not stop"  # a hang guard, not a speed claim
    assert following.stdout == "next\n"
    assert not [p for p in processes if p.startswith("sleep")], processes


def test_an_exit_ends_the_shell_and_the_next_command_gets_a_new_one(client, tmp_path):
    async def scenario(ws: DockerWorkspace):
        heard = Heard()
        await ws.exec("export GONE=1", timeout=30, keep=KEEP, watch=heard)
        ended = await ws.exec("exit 3", timeout=30, keep=KEEP, watch=heard)
        notices = list(heard.notices)
        after = await ws.exec("echo ${GONE:-unset}; pwd", timeout=30, keep=KEEP, watch=heard)
        return ended, notices, after

    ended, notices, after = in_sandbox(client, spec_for(tmp_path), scenario)
    assert ended.exit_code == 3
    assert any("shell exited (status 3)" in notice for notice in notices)
    assert after.stdout == "unset\n/workspace\n"


def test_a_container_that_died_is_replaced_and_the_workspace_kept(client, tmp_path):
    async def scenario(ws: DockerWorkspace):
        heard = Heard()
        await ws.exec("echo kept > file.txt", timeout=30, keep=KEEP, watch=heard)
        first = ws.container
        client.api.kill(first)
        assert wait_until(lambda: not sandboxes(client, ws.spec.sandbox_id))
        after = await ws.exec("cat file.txt", timeout=30, keep=KEEP, watch=heard)
        return first, ws.container, after, list(heard.notices)

    first, second, after, notices = in_sandbox(client, spec_for(tmp_path), scenario)
    assert second and second != first
    assert after.stdout == "kept\n"
    assert any("container stopped" in notice for notice in notices)


def test_output_is_capped_while_it_streams(client, tmp_path):
    async def scenario(ws: DockerWorkspace):
        return await ws.exec("yes | head -c 100000000; echo; echo end", timeout=120, keep=KEEP)

    result = in_sandbox(client, spec_for(tmp_path), scenario)
    assert len(result.stdout) <= 2 * KEEP
    assert result.stdout.endswith("end\n")
    assert result.stdout_gap is not None and result.stdout_gap.chars > 99_000_000


def test_background_jobs_are_reported_and_end_with_the_sandbox(client, tmp_path):
    async def scenario(ws: DockerWorkspace):
        return await ws.exec("sleep 200 &", timeout=30, keep=KEEP)

    result = in_sandbox(client, spec_for(tmp_path), scenario)
    assert [command for _, command in result.background] == ["sleep 200"]


def test_file_tools_reach_paths_outside_the_workspace_inside_the_container(client, tmp_path):
    async def scenario(ws: DockerWorkspace):
        tools = WorkspaceTools(ws, timeout=30, max_output_chars=KEEP)
        created = await tools.run(
            ToolCall("t1", "create_file", {"path": "/tmp/deep/a.txt", "file_text": "one\ntwo\n"})
        )
        replaced = await tools.run(
            ToolCall(
                "t2", "str_replace", {"path": "/tmp/deep/a.txt", "old_str": "two", "new_str": "2"}
            )
        )
        viewed = await tools.run(ToolCall("t3", "view", {"path": "/tmp/deep/a.txt"}))
        listed = await tools.run(ToolCall("t4", "view", {"path": "/tmp"}))
        missing = await tools.run(ToolCall("t5", "view", {"path": "/tmp/none.txt"}))
        shell = await ws.exec("cat /tmp/deep/a.txt", timeout=30, keep=KEEP)
        return created, replaced, viewed, listed, missing, shell

    created, replaced, viewed, listed, missing, shell = in_sandbox(
        client, spec_for(tmp_path), scenario
    )
    assert not created.is_error and not replaced.is_error, (created, replaced)
    assert "2" in viewed.content and "two" not in viewed.content
    assert "deep/" in listed.content and "deep/a.txt" in listed.content
    assert missing.is_error
    assert shell.stdout == "one\n2\n"
    assert not (tmp_path / "tmp").exists()


def test_a_link_out_of_the_workspace_is_followed_in_the_container_not_on_the_host(client, tmp_path):
    secret = tmp_path / "host-only.txt"
    secret.write_text("host secret")
    workdir = tmp_path / "work"
    workdir.mkdir()

    async def scenario(ws: DockerWorkspace):
        await ws.exec(
            f"ln -s {secret} leak.txt; ln -s /etc/hostname host.txt", timeout=30, keep=KEEP
        )
        tools = WorkspaceTools(ws, timeout=30, max_output_chars=KEEP)
        leak = await tools.run(ToolCall("t1", "view", {"path": "leak.txt"}))
        hostname = await tools.run(ToolCall("t2", "view", {"path": "host.txt"}))
        return leak, hostname, ws.container

    leak, hostname, container = in_sandbox(client, spec_for(workdir), scenario)
    assert "host secret" not in leak.content and leak.is_error
    assert container[:12] in hostname.content


def test_a_write_through_the_shell_that_cannot_open_its_file_leaves_the_shell_in_step(
    client, tmp_path
):
    """A link out of the mounts sends create_file into the container, where its target's
    folder does not exist: the file's bytes, sent after the command, must be read all the
    same, never left for the shell to run as its next command."""

    async def scenario(ws: DockerWorkspace):
        await ws.exec("ln -s /nowhere/at/all.txt out.txt", timeout=30, keep=KEEP)
        tools = WorkspaceTools(ws, timeout=30, max_output_chars=KEEP)
        payload = "touch /workspace/injected\n" * 3
        written = await tools.run(
            ToolCall("t1", "create_file", {"path": "out.txt", "file_text": payload})
        )
        after = await ws.exec("echo next", timeout=30, keep=KEEP)
        return written, after

    written, after = in_sandbox(client, spec_for(tmp_path), scenario)
    assert written.is_error and "No such file or directory" in written.content
    assert (after.exit_code, after.stdout) == (0, "next\n")
    assert not (tmp_path / "injected").exists()


def test_a_killed_kernel_leaves_no_container_behind(client, tmp_path):
    """The dead-man's switch: the sandbox's main process reads a stdin only its owner holds."""
    spec = spec_for(tmp_path)
    owner = textwrap.dedent(
        f"""
        import asyncio, docker, sys
        from pathlib import Path
        from conjure_kernel.backends.docker.sandbox_spec import SandboxSpec
        from conjure_kernel.backends.docker.workspace import DockerWorkspace
        spec = SandboxSpec(image={IMAGE!r}, memory="512m", cpus=1.0, pids=256, network="none",
                           host="", workdir=Path({str(tmp_path)!r}), sandbox_id={spec.sandbox_id!r})
        async def main():
            ws = DockerWorkspace(docker.from_env(), spec)
            await ws.exec("true", timeout=30, keep=100)
            print("ready", flush=True)
            await asyncio.sleep(600)
        asyncio.run(main())
        """
    )
    process = subprocess.Popen([sys.executable, "-c", owner], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        assert sandboxes(client, spec.sandbox_id)
        process.kill()
        process.wait()
        assert wait_until(lambda: not sandboxes(client, spec.sandbox_id), timeout=20)
    finally:
        process.kill()
        for container in sandboxes(client, spec.sandbox_id):
            container.remove(force=True)


def test_a_command_over_the_memory_limit_is_killed_and_the_session_goes_on(client, tmp_path):
    async def scenario(ws: DockerWorkspace):
        await ws.exec("cd /tmp", timeout=30, keep=KEEP)
        hungry = await ws.exec(
            "python3 -c 'blocks = [bytearray(1 << 20) for _ in range(1024)]'", timeout=60, keep=KEEP
        )
        return hungry, await ws.exec("pwd", timeout=30, keep=KEEP)

    hungry, after = in_sandbox(client, spec_for(tmp_path, memory="128m"), scenario)
    assert hungry.exit_code == 137  # the kernel's OOM killer, inside the limit
    assert after.stdout == "/tmp\n"


def test_a_shell_killed_from_outside_is_replaced_with_a_notice(client, tmp_path):
    async def scenario(ws: DockerWorkspace):
        heard = Heard()
        await ws.exec("echo $$ > /tmp/shell.pid", timeout=30, keep=KEEP, watch=heard)
        client.api.exec_start(
            client.api.exec_create(ws.container, ["bash", "-c", "kill -9 $(cat /tmp/shell.pid)"])
        )
        await asyncio.sleep(0.2)
        return await ws.exec("echo fresh", timeout=30, keep=KEEP, watch=heard), list(heard.notices)

    after, notices = in_sandbox(client, spec_for(tmp_path), scenario)
    assert after.stdout == "fresh\n"
    assert any("shell exited" in notice for notice in notices)


def test_output_without_a_final_newline_or_with_binary_comes_back_exactly(client, tmp_path):
    async def scenario(ws: DockerWorkspace):
        bare = await ws.exec("printf no-newline; printf err >&2", timeout=30, keep=KEEP)
        syntax = await ws.exec("echo 'unterminated", timeout=30, keep=KEEP)
        after = await ws.exec("echo fine", timeout=30, keep=KEEP)
        return bare, syntax, after

    bare, syntax, after = in_sandbox(client, spec_for(tmp_path), scenario)
    assert (bare.stdout, bare.stderr) == ("no-newline", "err")
    assert syntax.exit_code == 2 and "unexpected EOF" in syntax.stderr
    assert after.stdout == "fine\n"


@pytest.mark.skipif(os.getuid() != 0, reason="only a root kernel opens the workspace to group 0")
def test_opening_the_workspace_to_the_sandboxs_group_never_follows_a_link(tmp_path):
    """Root's chmod of the workspace goes by descriptors: a link to a file or folder
    outside is left as it is, and so is what it points to."""
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "passwd").write_text("root:x:0:0")
    (outside / "passwd").chmod(0o644)
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "sub" / "mine.txt").write_text("x")
    (work / "sub" / "mine.txt").chmod(0o600)
    (work / "link").symlink_to(outside / "passwd")
    (work / "dirlink").symlink_to(outside)
    (outside / "deep").chmod(0o700)
    open_to_group(work)
    assert (work / "sub" / "mine.txt").stat().st_mode & 0o777 == 0o660
    assert (outside / "passwd").stat().st_mode & 0o777 == 0o644
    assert (outside / "deep").stat().st_mode & 0o777 == 0o700
    assert os.getxattr(work / "sub", "system.posix_acl_default")
    with pytest.raises(OSError):
        os.getxattr(outside / "deep", "system.posix_acl_default")
