"""Reaching a Docker engine, and finding its sandboxes again: each failure says which it
is (not installed, not running, not reachable, no image) and what to do next, and clean-up
removes only what nobody will use again.

The listing and clean-up tests run on a second engine of their own (tests/docker_support.py),
since ``collect_garbage(everything=True)`` would end every sandbox on a shared engine.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker_support import IMAGE, engine_with_image, free_port, second_engine

from conjure_kernel.backends.base import SessionOptions
from conjure_kernel.backends.docker import engine
from conjure_kernel.backends.docker.backend import DockerBackend
from conjure_kernel.errors import BackendSettingError, BackendUnavailable
from conjure_kernel.notebook.wording import worded_for_notebook

REPO = Path(__file__).resolve().parents[2]


def missing_socket(tmp_path: Path) -> str:
    return f"unix://{tmp_path / f'missing-{secrets.token_hex(4)}.sock'}"


def closed_port_address() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


def assert_one_clear_line(error: BackendUnavailable) -> None:
    """A message and a hint of one line each, the hint offering the local backend, which a
    notebook words as the magic that switches to it."""
    message, hint = str(error), error.hint
    assert message and "\n" not in message, message
    assert hint and "\n" not in hint, hint
    assert "Traceback" not in message and "HTTPConnection" not in message, message
    assert "%backend local" in worded_for_notebook(error).hint  # type: ignore[attr-defined]


@pytest.mark.parametrize("given_as", ["DOCKER_HOST", "host"])
def test_an_engine_that_is_not_running_says_so_and_how_to_start_it(monkeypatch, tmp_path, given_as):
    address = missing_socket(tmp_path)
    monkeypatch.setenv("DOCKER_HOST", address if given_as == "DOCKER_HOST" else "")
    with pytest.raises(BackendUnavailable) as caught:
        engine.connect(address if given_as == "host" else "", timeout=10)
    error = caught.value
    assert_one_clear_line(error)
    assert "not running" in str(error) and address in str(error)
    assert "systemctl start docker" in error.hint and "dockerd" in error.hint


@pytest.mark.parametrize("given_as", ["DOCKER_HOST", "host"])
def test_a_remote_engine_that_does_not_answer_is_not_reachable(monkeypatch, given_as):
    address = closed_port_address()
    monkeypatch.setenv("DOCKER_HOST", address if given_as == "DOCKER_HOST" else "")
    with pytest.raises(BackendUnavailable) as caught:
        engine.connect(address if given_as == "host" else "", timeout=10)
    error = caught.value
    assert_one_clear_line(error)
    assert "not reachable" in str(error) and address in str(error)
    assert "refused" in str(error).lower()
    assert "check the address" in error.hint


def test_without_docker_on_the_path_it_says_docker_is_not_installed(tmp_path):
    """In a fresh process: neither ``docker`` nor ``dockerd`` on PATH, and no socket."""
    empty = tmp_path / "bin"
    empty.mkdir()
    script = textwrap.dedent(
        """
        import json
        from conjure_kernel.backends.docker import engine
        from conjure_kernel.errors import BackendUnavailable
        from conjure_kernel.notebook.wording import worded_for_notebook
        try:
            engine.connect(timeout=10)
        except BackendUnavailable as error:
            notebook = worded_for_notebook(error).hint
            print(json.dumps({"message": str(error), "hint": error.hint, "notebook": notebook}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"PATH": str(empty), "DOCKER_HOST": missing_socket(tmp_path), "HOME": str(tmp_path)},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["message"] == "Docker is not installed on this machine"
    assert "\n" not in found["hint"] and "apt-get install docker.io" in found["hint"]
    assert "%backend local" in found["notebook"]


def test_a_missing_image_says_how_to_build_it():
    client = engine_with_image()
    missing = f"conjure-missing-{secrets.token_hex(4)}:latest"
    try:
        with pytest.raises(BackendUnavailable) as local:
            engine.require_image(client, missing)
        with pytest.raises(BackendUnavailable) as remote:
            engine.require_image(client, missing, "tcp://engine.example:2375")
    finally:
        client.close()
    assert str(local.value) == f"the sandbox image {missing} is not on the local Docker engine"
    assert "`python -m conjure_kernel docker build`" in local.value.hint
    assert "\n" not in local.value.hint
    assert "tcp://engine.example:2375" in str(remote.value)
    assert "docker build --host tcp://engine.example:2375`" in remote.value.hint


def open_session(**given: str) -> None:
    settings = DockerBackend.settings_class.parse(given)

    async def run() -> None:
        session = await DockerBackend().open_session((), SessionOptions(settings=settings))
        await DockerBackend().close(session)

    asyncio.run(run())


@pytest.mark.parametrize("memory", ["lots", "-1g", "512 m", "0", "4k"])
def test_a_bad_memory_limit_is_refused_before_the_engine_is_asked(memory):
    """The address does not answer: the setting is checked first. ``0`` would mean no limit
    at all to the engine, and below 6m the engine refuses only at the first tool call."""
    with pytest.raises(BackendSettingError) as caught:
        open_session(memory=memory, host=closed_port_address())
    assert str(caught.value).startswith(f"memory={memory}: expected")


def test_opening_a_session_fails_at_once_on_an_engine_or_image_problem(tmp_path):
    with pytest.raises(BackendUnavailable, match="not reachable"):
        open_session(host=closed_port_address(), workdir=str(tmp_path))
    engine_with_image().close()  # skips (or fails under CI) without the local engine
    missing = f"conjure-missing-{secrets.token_hex(4)}:latest"
    with pytest.raises(BackendUnavailable, match=f"image {missing} is not on"):
        open_session(image=missing, workdir=str(tmp_path))


# -- finding sandboxes again, and removing the orphans ---------------------------------------


@pytest.fixture(scope="module")
def address() -> Iterator[str]:
    local = engine_with_image()
    with second_engine(local) as found:
        yield found
    local.close()


@pytest.fixture
def client(address: str) -> Iterator[docker.DockerClient]:
    client = engine.connect(address)
    yield client
    client.close()


def dead_pid() -> int:
    """The pid of a process of this host that has ended (and been reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def make_sandbox(
    client: docker.DockerClient, pid: int, *, host: str = "", state: str = "running"
) -> str:
    """A container labelled as a sandbox of a new session, with a workspace volume; the
    session's id."""
    session = secrets.token_hex(6)
    labels = engine.owner_labels(session, "test-kernel")
    labels["conjure.owner-pid"] = str(pid)
    if host:
        labels["conjure.owner-host"] = host
    client.volumes.create(f"conjure-{session}-workspace", labels=labels)
    container = client.containers.create(
        IMAGE,
        entrypoint=["true"] if state == "exited" else ["sleep", "infinity"],
        labels=labels,
        name=f"conjure-{session}",
        network_mode="none",
    )
    if state != "created":
        container.start()
    if state == "exited":
        container.wait(timeout=60)
    return session


@pytest.fixture
def population(client: docker.DockerClient) -> Iterator[dict[str, str]]:
    """Sandboxes of every kind, by role: their sandbox ids. Removed afterwards."""
    sessions = {
        "owner gone": make_sandbox(client, dead_pid()),
        "owner alive": make_sandbox(client, os.getpid()),
        "being made": make_sandbox(client, os.getpid(), state="created"),
        "stopped": make_sandbox(client, os.getpid(), state="exited"),
        "other host": make_sandbox(client, dead_pid(), host=f"elsewhere-{secrets.token_hex(3)}"),
    }
    yield sessions
    for session in sessions.values():
        for container in client.containers.list(
            all=True, filters={"label": f"{engine.LABEL}={session}"}, ignore_removed=True
        ):
            container.remove(force=True)
        for volume in client.volumes.list(filters={"label": f"{engine.LABEL}={session}"}):
            volume.remove(force=True)


def names(client: docker.DockerClient) -> set[str]:
    containers = {
        c.name
        for c in client.containers.list(
            all=True, filters={"label": engine.LABEL}, ignore_removed=True
        )
    }
    volumes = {v.name for v in client.volumes.list(filters={"label": engine.LABEL})}
    return containers | volumes


def test_sandboxes_whose_owner_is_gone_or_that_stopped_are_orphans(client, population):
    found = {info.sandbox_id: info for info in engine.list_sandboxes(client)}
    orphaned = {role: found[session].orphaned for role, session in population.items()}
    assert orphaned == {
        "owner gone": True,
        "owner alive": False,
        "being made": False,
        "stopped": True,
        "other host": False,  # its owner cannot be looked up from here
    }
    alive = found[population["owner alive"]]
    assert (alive.name, alive.kernel_id, alive.status) == (
        f"conjure-{population['owner alive']}",
        "test-kernel",
        "running",
    )
    assert alive.owner.endswith(f":{os.getpid()}")


def test_collect_garbage_removes_the_orphans_and_their_volumes_only(client, population):
    gone = {population["owner gone"], population["stopped"]}
    expected = {f"conjure-{s}" for s in gone} | {f"conjure-{s}-workspace" for s in gone}
    before = names(client)

    removed = engine.collect_garbage(client)

    assert set(removed) == expected
    assert names(client) == before - expected
    kept = {info.sandbox_id for info in engine.list_sandboxes(client)}
    assert kept == set(population.values()) - gone

    engine.collect_garbage(client, everything=True)
    assert names(client) == set()
