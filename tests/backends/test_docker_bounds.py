"""The docker sandbox's bounds against a real engine: the container log, the tmpfs sizes,
the workspace's disk limit, and a sandbox that recovers by itself from what kills its shell.

Each test floods or kills something inside a sandbox of its own and removes it after;
none asserts on how long anything took (the suite runs on loaded two-core machines).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from docker_support import Heard, engine_with_image, in_sandbox, sandboxes, spec_for, wait_until

from conjure_kernel.backends.base import SessionOptions
from conjure_kernel.backends.docker.backend import DockerBackend
from conjure_kernel.backends.docker.workspace import DockerWorkspace
from conjure_kernel.errors import BackendSettingError

KEEP = 4000
MB = 1 << 20


@pytest.fixture(scope="module")
def client():
    return engine_with_image()


def used_by(folder: Path) -> int:
    """The bytes the files under ``folder`` take on disk."""
    return sum(
        (Path(root) / name).lstat().st_blocks * 512
        for root, _, names in os.walk(folder)
        for name in names
    )


def shell_seen_gone(ws: DockerWorkspace) -> bool:
    """Wait until the kernel has seen the shell's stream end: a command sent before that
    goes to a shell already dead, and is lost with it (a known race, not tested here)."""
    shell = ws._shell
    return wait_until(lambda: shell is None or not shell.alive, timeout=30)


def test_output_to_the_containers_main_process_is_not_logged_and_the_switch_still_works(
    client, tmp_path
):
    async def scenario(ws: DockerWorkspace):
        await ws.exec("true", timeout=30, keep=KEEP)
        info = client.api.inspect_container(ws.container)
        folder = Path(f"/var/lib/docker/containers/{ws.container}")
        before = used_by(folder) if os.access(folder, os.R_OK) else None
        flood = await ws.exec(
            "(timeout 3 yes > /proc/1/fd/1 &); sleep 4; echo flooded", timeout=60, keep=KEEP
        )
        after = used_by(folder) if before is not None else None
        alive = await ws.exec("echo alive", timeout=30, keep=KEEP)
        return info, before, after, flood, alive, ws.spec.sandbox_id

    info, before, after, flood, alive, session = in_sandbox(client, spec_for(tmp_path), scenario)
    assert info["HostConfig"]["LogConfig"]["Type"] == "none"
    assert info["LogPath"] == ""
    if before is not None:  # the engine's folder for the container is readable (root)
        assert after - before < MB, (before, after)
    assert flood.stdout == "flooded\n" and alive.stdout == "alive\n"
    assert not sandboxes(client, session)  # the switch still ends the container


def test_tmpfs_folders_are_sized_and_a_full_tmp_leaves_the_sandbox_working(client, tmp_path):
    async def scenario(ws: DockerWorkspace):
        heard = Heard()
        sizes = await ws.exec(
            "stat -f -c '%n %b %S' /tmp ~ /dev/shm; ulimit -H -f",
            timeout=30,
            keep=KEEP,
            watch=heard,
        )
        tmp = await ws.exec("head -c 2G /dev/zero > /tmp/x", timeout=120, keep=KEEP, watch=heard)
        home = await ws.exec("head -c 2G /dev/zero > ~/x", timeout=120, keep=KEEP, watch=heard)
        after = await ws.exec("python3 -c 'print(\"works\")'", timeout=60, keep=KEEP, watch=heard)
        return sizes, tmp, home, after, list(heard.notices)

    sizes, tmp, home, after, notices = in_sandbox(
        client, spec_for(tmp_path, memory="512m", tmpfs="256m", disk="1g"), scenario
    )
    *folders, fsize = sizes.stdout.splitlines()
    found = {name: int(blocks) * int(size) for name, blocks, size in map(str.split, folders)}
    assert found == {"/tmp": 192 * MB, "/home/agent": 32 * MB, "/dev/shm": 32 * MB}
    assert int(fsize) * 1024 == 1 << 30  # the largest file: disk=
    for full in (tmp, home):
        assert full.exit_code != 0 and "No space left on device" in full.stderr
    assert after.stdout == "works\n" and not notices


def test_tmpfs_is_cut_to_half_the_memory_limit():
    spec = spec_for(Path("/nowhere"), memory="128m", tmpfs="1g")
    assert spec.tmpfs_bytes == 64 * MB
    assert spec.tmpfs_sizes() == {"/tmp": 48 * MB, "/home/agent": 8 * MB, "/dev/shm": 8 * MB}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"tmpfs": "0"}, "tmpfs=0: expected a size of at least 1m, such as 256m"),
        ({"tmpfs": "lots"}, "tmpfs=lots: expected a size of at least 1m, such as 256m"),
        ({"disk": "0"}, "disk=0: expected a size of at least 1m, such as 4g or 500m, or none"),
        ({"disk": "-1g"}, "disk=-1g: expected a size of at least 1m, such as 4g or 500m, or none"),
    ],
)
def test_a_bad_tmpfs_or_disk_is_refused_in_one_line(given, message, tmp_path):
    with pytest.raises(BackendSettingError) as refused:
        DockerBackend.settings_class.parse({"workdir": str(tmp_path), **given})
    assert str(refused.value) == message


def test_backend_shows_every_bound_and_what_a_tool_can_read_write_and_reach(client, tmp_path):
    async def described(**given: str) -> str:
        settings = DockerBackend.settings_class.parse({"workdir": str(tmp_path), **given})
        session = await DockerBackend().open_session((), SessionOptions(settings=settings))
        try:
            return session.describe()
        finally:
            await DockerBackend().close(session)

    default = asyncio.run(described())
    assert default.startswith("docker: sandbox") and f"{tmp_path} mounted at /workspace" in default
    for bound in (
        "reads: the image (its root read-only), the skills read-only at /mnt/skills",
        "writes: /workspace up to disk=4g in the session",
        "/tmp 192m, home 32m and /dev/shm 32m (tmpfs=256m, counted in memory)",
        "no container log kept",
        "reaches: no network (network=none)",
        "memory=512m (swap included), cpus=1, pids=256, timeout=300 s",
    ):
        assert bound in default, default
    small = asyncio.run(described(memory="128m", disk="none", network="bridge"))
    assert "cut from tmpfs=256m to half of memory=128m" in small
    assert "/tmp 48m" in small and "/workspace without a limit (disk=none)" in small
    assert "reaches: the network" in small


def test_one_file_past_the_disk_limit_is_stopped_at_the_limit(client, tmp_path):
    async def scenario(ws: DockerWorkspace):
        heard = Heard()
        big = await ws.exec(
            "head -c 200M /dev/zero > big; echo after", timeout=120, keep=KEEP, watch=heard
        )
        notices = list(heard.notices)
        freed = await ws.exec("rm big && echo freed", timeout=30, keep=KEEP, watch=heard)
        return big, notices, freed

    big, notices, freed = in_sandbox(client, spec_for(tmp_path, disk="50m"), scenario)
    assert "stopped: the workspace passed its disk limit of 50m (disk=)" in big.stderr
    assert not big.timed_out
    assert any("disk limit of 50m" in notice for notice in notices), notices
    assert freed.stdout == "freed\n" and freed.exit_code == 0 and not freed.stderr


def test_many_small_files_past_the_disk_limit_are_stopped_near_it(client, tmp_path):
    async def scenario(ws: DockerWorkspace):
        heard = Heard()
        return await ws.exec(
            "for i in $(seq 400); do head -c 1M /dev/zero > f$i; done; echo all written",
            timeout=300,
            keep=KEEP,
            watch=heard,
        ), list(heard.notices)

    loop, notices = in_sandbox(client, spec_for(tmp_path, disk="50m"), scenario)
    assert "stopped: the workspace passed its disk limit of 50m (disk=)" in loop.stderr
    assert "all written" not in loop.stdout
    assert any("disk limit of 50m" in notice for notice in notices), notices
    assert 50 * MB <= used_by(tmp_path) < 200 * MB  # of the 400 MB it would have written


def test_files_deleted_but_held_open_count_against_the_disk_limit(client, tmp_path):
    hide = (
        "for i in 1 2 3 4 5; do (exec 3> h$i; rm h$i; head -c 30M /dev/zero >&3; sleep 100) & "
        "done; wait; echo all written"
    )

    async def scenario(ws: DockerWorkspace):
        return await ws.exec(hide, timeout=300, keep=KEEP)

    hidden = in_sandbox(client, spec_for(tmp_path, disk="50m"), scenario)
    assert "stopped: the workspace passed its disk limit of 50m (disk=)" in hidden.stderr
    assert "all written" not in hidden.stdout


def test_a_background_writer_past_the_limit_between_commands_stops_the_container(client, tmp_path):
    writer = (
        "(for i in $(seq 400); do head -c 1M /dev/zero > b$i; sleep 0.05; done) >/dev/null 2>&1 &"
    )

    async def scenario(ws: DockerWorkspace):
        heard = Heard()
        await ws.exec(f"setsid bash -c '{writer}'", timeout=30, keep=KEEP, watch=heard)
        first = ws.container
        stopped = await asyncio.to_thread(
            wait_until, lambda: not sandboxes(client, ws.spec.sandbox_id), timeout=120
        )
        after = await ws.exec("echo fresh", timeout=30, keep=KEEP, watch=heard)
        return first, stopped, after, ws.container, list(heard.notices)

    first, stopped, after, second, notices = in_sandbox(
        client, spec_for(tmp_path, disk="50m"), scenario
    )
    assert stopped and second != first
    assert after.stdout == "fresh\n"
    assert any("disk limit of 50m (disk=) while no command ran" in n for n in notices), notices
    assert used_by(tmp_path) < 200 * MB


def test_a_shell_killed_for_memory_is_replaced_with_a_notice_that_says_so(client, tmp_path):
    hog = "python3 -c 'blocks = bytearray(200 << 20)'"

    async def scenario(ws: DockerWorkspace):
        heard = Heard()
        await ws.exec("export KEPT=1", timeout=30, keep=KEEP, watch=heard)
        command = await ws.exec(hog, timeout=120, keep=KEEP, watch=heard)
        shell = await ws.exec(f"exec {hog}", timeout=120, keep=KEEP, watch=heard)
        notices = list(heard.notices)
        after = await ws.exec("echo fresh ${KEPT:-unset}", timeout=30, keep=KEEP, watch=heard)
        return command, shell, notices, after

    command, shell, notices, after = in_sandbox(client, spec_for(tmp_path, memory="64m"), scenario)
    assert command.exit_code == 137
    assert "killed: the sandbox ran out of memory (memory=64m)" in command.stderr
    assert "out of memory" in shell.stderr
    assert any("shell exited (status 137" in n and "out of memory" in n for n in notices), notices
    assert after.stdout == "fresh unset\n"


def test_a_shell_killed_from_outside_is_replaced_and_the_notice_says_how(client, tmp_path):
    async def scenario(ws: DockerWorkspace):
        heard = Heard()
        await ws.exec("echo $$ > /tmp/shell.pid", timeout=30, keep=KEEP, watch=heard)
        client.api.exec_start(
            client.api.exec_create(ws.container, ["bash", "-c", "kill -9 $(cat /tmp/shell.pid)"])
        )
        assert await asyncio.to_thread(shell_seen_gone, ws)
        return await ws.exec("echo fresh", timeout=30, keep=KEEP, watch=heard), list(heard.notices)

    after, notices = in_sandbox(client, spec_for(tmp_path), scenario)
    assert after.stdout == "fresh\n"
    assert any("killed by SIGKILL, not for memory" in notice for notice in notices), notices


def test_a_container_where_no_shell_starts_is_replaced_by_a_new_one(client, tmp_path):
    async def scenario(ws: DockerWorkspace):
        heard = Heard()
        await ws.exec(
            "echo kept > file.txt; echo $$ > /tmp/shell.pid", timeout=30, keep=KEEP, watch=heard
        )
        first = ws.container
        client.api.exec_start(
            client.api.exec_create(first, ["bash", "-c", "kill -9 $(cat /tmp/shell.pid)"])
        )
        assert await asyncio.to_thread(shell_seen_gone, ws)
        client.api.pause(first)  # and nothing can start in it any more
        after = await ws.exec("cat file.txt", timeout=30, keep=KEEP, watch=heard)
        return first, ws.container, after, list(heard.notices)

    first, second, after, notices = in_sandbox(client, spec_for(tmp_path), scenario)
    assert second and second != first
    assert after.stdout == "kept\n"
    assert any(
        "the sandbox shell did not start: " in n and "paused" in n and "new container" in n
        for n in notices
    ), notices
