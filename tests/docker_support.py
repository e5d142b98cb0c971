"""What the Docker tests share: the engine and the sandbox image (skipped without them,
failed when CI requires them), a second engine on a loopback TCP port, and looks into
running sandboxes.

CI sets ``CONJURE_REQUIRE_DOCKER=1`` after bringing an engine up (scripts/docker-setup.sh),
so there a missing engine or image fails the run instead of skipping it silently.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import docker
import docker.errors
import pytest

from conjure_kernel.backends.docker.engine import LABEL
from conjure_kernel.backends.docker.images import DEFAULT_IMAGE, image_is_current

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


def sandboxes(client: docker.DockerClient, session: str | None = None) -> list:
    """Conjure's containers on the engine (of one session, if given), running or not."""
    label = LABEL if session is None else f"{LABEL}={session}"
    return client.containers.list(all=True, filters={"label": label})


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def second_engine(local: docker.DockerClient) -> Iterator[str]:
    """Another dockerd on a loopback TCP port with its own data root, holding a copy of the
    sandbox image: an engine that shares no folders with this kernel, as a team's would."""
    if shutil.which("dockerd") is None:
        pytest.fail("dockerd is not installed: bash scripts/docker-setup.sh")
    port = _free_port()
    root = Path(tempfile.mkdtemp(prefix="conjure-engine-"))
    address = f"tcp://127.0.0.1:{port}"
    command = [
        "dockerd",
        f"--host={address}",
        f"--data-root={root / 'data'}",
        f"--exec-root={root / 'exec'}",
        f"--pidfile={root / 'dockerd.pid'}",
        "--bridge=none",
        "--iptables=false",
        "--ip-masq=false",
    ]
    log = (root / "dockerd.log").open("wb")
    daemon = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        remote = docker.DockerClient(base_url=address, timeout=120)
        if not wait_until(lambda: _answers(remote), timeout=30):
            pytest.fail(f"the second engine did not start: {(root / 'dockerd.log').read_text()}")
        remote.images.load(local.images.get(IMAGE).save())
        yield address
        for container in sandboxes(remote):
            container.remove(force=True)
        remote.close()
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
        log.close()
        subprocess.run(["umount", "-R", str(root / "data")], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _answers(client: docker.DockerClient) -> bool:
    try:
        return bool(client.ping())
    except docker.errors.DockerException:
        return False
