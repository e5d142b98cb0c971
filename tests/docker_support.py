"""What the Docker tests share: the engine and the sandbox image (skipped without them,
failed when CI requires them), a second engine on a loopback TCP port, and looks into
running sandboxes.

CI sets ``CONJURE_REQUIRE_DOCKER=1`` after bringing an engine up (scripts/docker-setup.sh),
so there a missing engine or image fails the run instead of skipping it silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import NoReturn

import docker
import docker.errors
import pytest

from conjure_kernel.backends.docker.engine import LABEL
from conjure_kernel.backends.docker.images import DEFAULT_IMAGE, image_is_current
from conjure_kernel.backends.docker.sandbox_spec import SandboxSpec
from conjure_kernel.backends.docker.workspace import DockerWorkspace

REQUIRED = os.environ.get("CONJURE_REQUIRE_DOCKER") == "1"
IMAGE = os.environ.get("CONJURE_TEST_IMAGE", DEFAULT_IMAGE)
BUILD_TIMEOUT = 1800  # seconds; an offline build takes one to two minutes on a good mirror


def unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it when Docker is required."""
    if REQUIRED:
        pytest.fail(f"{reason} (and CONJURE_REQUIRE_DOCKER=1)", pytrace=False)
    pytest.skip(reason)


def engine() -> docker.DockerClient:
    """A client for the engine DOCKER_HOST (or the local socket) names, once it answers."""
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except docker.errors.DockerException as error:
        unavailable(f"no Docker engine reachable: {error}")
    return client


def sandbox_image(client: docker.DockerClient, tag: str = IMAGE) -> str:
    """``tag`` built from the current recipe: built offline through the CLI when it is
    missing or stale, which takes a minute or two once and nothing afterwards."""
    if image_is_current(client, tag):
        return tag
    if shutil.which("mmdebstrap") is None:
        unavailable(f"{tag} is missing and mmdebstrap, needed to build it, is not installed")
    done = subprocess.run(
        [sys.executable, "-m", "conjure_kernel", "docker", "build", "--offline", "--tag", tag],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        pytest.fail(f"building {tag} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return tag


def engine_with_image() -> docker.DockerClient:
    """The engine, with the sandbox image ready on it."""
    client = engine()
    sandbox_image(client)
    return client


def spec_for(workdir: Path, skills=(), **limits) -> SandboxSpec:
    """A sandbox of the test image on ``workdir`` with the backend's default limits, as
    overridden by ``limits``, under a new sandbox id."""
    values = dict(memory="512m", cpus=1.0, pids=256, network="none", host="")
    values.update(limits)
    return SandboxSpec(
        image=IMAGE,
        workdir=workdir,
        skills=tuple(skills),
        sandbox_id=secrets.token_hex(6),
        kernel_id="test",
        **values,
    )


def in_sandbox(client, spec: SandboxSpec, scenario: Callable[[DockerWorkspace], Awaitable]):
    """Run ``scenario`` with a workspace on one event loop; then no container is left."""

    async def run():
        workspace = DockerWorkspace(client, spec)
        try:
            return await scenario(workspace)
        finally:
            await workspace.aclose()

    try:
        return asyncio.run(run())
    finally:
        for container in sandboxes(client, spec.sandbox_id):
            container.remove(force=True)


class Heard:
    """A ``CallWatch`` that keeps what it hears: what a workspace told the person."""

    def __init__(self) -> None:
        self.output: list[str] = []
        self.notices: list[str] = []

    def printed(self, text: str) -> None:
        self.output.append(text)

    def notice(self, text: str) -> None:
        self.notices.append(text)


def sandboxes(client: docker.DockerClient, session: str | None = None) -> list:
    """Conjure's containers on the engine (of one session, if given), running or not."""
    label = LABEL if session is None else f"{LABEL}={session}"
    return client.containers.list(all=True, filters={"label": label}, ignore_removed=True)


def wait_until(condition, *, timeout: float = 20.0, every: float = 0.1) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return bool(condition())


def container_processes(client: docker.DockerClient, container: str) -> list[str]:
    """The command names running in a container, read from /proc by a separate exec."""
    script = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done"
    output = client.api.exec_start(client.api.exec_create(container, ["bash", "-c", script])["Id"])
    return [line.strip() for line in output.decode().splitlines() if line.strip()]


def free_port() -> int:
    """A loopback TCP port nothing listens on (just now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def second_engine(local: docker.DockerClient) -> Iterator[str]:
    """Another dockerd on a loopback TCP port with its own data root, holding a copy of the
    sandbox image: an engine that shares no folders with this kernel, as a team's would.

    It shares nothing with the local engine either: its own containerd (under its exec
    root, in its own namespace) and its own bridge. Never ``--bridge=none``: a dockerd
    started so deletes the host's ``docker0``, the local engine's bridge. Everything it
    made goes with it.
    """
    if shutil.which("dockerd") is None or shutil.which("ip") is None:
        pytest.fail("dockerd or ip is not installed: bash scripts/docker-setup.sh")
    port = free_port()
    root = Path(tempfile.mkdtemp(prefix="conjure-engine-"))
    address = f"tcp://127.0.0.1:{port}"
    bridge = f"conjure-{secrets.token_hex(3)}"  # at most 15 characters, as Linux wants
    command = [
        "dockerd",
        f"--host={address}",
        f"--data-root={root / 'data'}",
        f"--exec-root={root / 'exec'}",
        f"--pidfile={root / 'dockerd.pid'}",
        "--containerd-namespace=conjure-test",
        "--containerd-plugins-namespace=conjure-test-plugins",
        f"--bridge={bridge}",
        "--iptables=false",
        "--ip-masq=false",
    ]
    log_path = root / "dockerd.log"
    daemon: subprocess.Popen | None = None
    remote: docker.DockerClient | None = None
    try:
        _add_bridge(bridge)
        with log_path.open("wb") as log:
            daemon = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        # the client asks the engine its API version as it is made: only once it listens
        up: list[docker.DockerClient] = []
        started = daemon
        if not wait_until(lambda: started.poll() is None and _connected(address, up), timeout=90):
            pytest.fail(f"the second engine did not start:\n{log_path.read_text()[-4000:]}")
        remote = up[0]
        remote.images.load(local.images.get(IMAGE).save(named=IMAGE))  # tagged, not by id
        yield address
    finally:
        if remote is not None:
            with contextlib.suppress(docker.errors.DockerException):
                for container in sandboxes(remote):
                    container.remove(force=True)
                for volume in remote.volumes.list(filters={"label": LABEL}):
                    volume.remove(force=True)
            remote.close()
        if daemon is not None:
            _stop(daemon)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)
        subprocess.run(["umount", "-R", str(root / "data")], capture_output=True)
        subprocess.run(["umount", "-R", str(root / "exec")], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _add_bridge(name: str) -> None:
    """A bridge of the second engine's own, with an address in a private /24 (an engine
    takes its containers' addresses from its bridge's)."""
    subnet = f"10.{secrets.randbelow(50) + 200}.{secrets.randbelow(254) + 1}"
    for step in (
        ["ip", "link", "add", name, "type", "bridge"],
        ["ip", "addr", "add", f"{subnet}.1/24", "dev", name],
        ["ip", "link", "set", name, "up"],
    ):
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(step)} failed: {done.stderr.strip()}")


def _connected(address: str, found: list[docker.DockerClient]) -> bool:
    """Whether the engine at ``address`` answers; its client goes into ``found``."""
    try:
        client = docker.DockerClient(base_url=address, timeout=120)
        client.ping()
    except docker.errors.DockerException:
        return False
    found.append(client)
    return True


def _stop(daemon: subprocess.Popen) -> None:
    """End a dockerd started by ``second_engine``, then whatever is left of its process
    group (its containerd), so no daemon outlives the test."""
    daemon.terminate()
    try:
        daemon.wait(timeout=30)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(daemon.pid, signal.SIGKILL)
