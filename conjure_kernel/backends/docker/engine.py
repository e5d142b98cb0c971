"""Reaching a Docker engine, and finding the sandboxes on it again.

Every container and volume the backend makes carries ``conjure.*`` labels: the sandbox,
the kernel, the owning process and host, and the creation time. Listing and clean-up go
by those labels only, since an engine may be shared with other people's containers.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
from dataclasses import dataclass

import docker
import docker.errors
import docker.models.images

from ...errors import BackendUnavailable
from ...processes import process_exists

__all__ = [
    "LABEL",
    "SandboxInfo",
    "collect_garbage",
    "connect",
    "engine_name",
    "engine_room",
    "list_sandboxes",
    "owner_labels",
    "require_image",
]

LABEL = "conjure.sandbox"
"""The label every sandbox container and volume has; its value is the sandbox's id."""
_OWNER_HOST = "conjure.owner-host"
_OWNER_PID = "conjure.owner-pid"
_CREATED = "conjure.created"
_KERNEL = "conjure.kernel"
_DEFAULT_SOCKET = "unix:///var/run/docker.sock"
_FALLBACK_HINT = "or switch to tools on this machine with the local backend"


def engine_name(host: str) -> str:
    """How messages name the engine: its address, or ``DOCKER_HOST``'s, or the local one."""
    return host or os.environ.get("DOCKER_HOST", "") or "the local Docker engine"


def connect(host: str = "", *, timeout: float = 60) -> docker.DockerClient:
    """A client for the engine at ``host`` (empty: ``DOCKER_HOST``, else the local socket),
    checked with a ping; each way of failing gets its own message and next step."""
    try:
        client = (
            docker.DockerClient(base_url=host, timeout=timeout)
            if host
            else docker.from_env(timeout=timeout)
        )
        client.ping()
    except docker.errors.DockerException as error:
        raise _unreachable(host, error) from None
    return client


def _unreachable(host: str, error: Exception) -> BackendUnavailable:
    detail = str(error)
    address = host or os.environ.get("DOCKER_HOST", "") or _DEFAULT_SOCKET
    where = engine_name(host)
    if "PermissionError" in detail or "Permission denied" in detail:
        return BackendUnavailable(
            f"permission denied on {where}'s socket",
            hint=f"add yourself to the docker group (then log in again), {_FALLBACK_HINT}",
        )
    if not address.startswith(("unix://", "npipe://")):
        return BackendUnavailable(
            f"the Docker engine at {where} is not reachable ({_reason(detail)})",
            hint=f"check the address and that the engine listens there, {_FALLBACK_HINT}",
        )
    if shutil.which("dockerd") is None and shutil.which("docker") is None:
        return BackendUnavailable(
            "Docker is not installed on this machine",
            hint=(
                "install it (Debian: apt-get install docker.io; elsewhere Docker Desktop), "
                "or run `bash scripts/docker-setup.sh` from a conjure-kernel clone, "
                f"{_FALLBACK_HINT}"
            ),
        )
    return BackendUnavailable(
        f"the Docker engine is not running (nothing answers at {address}: {_reason(detail)})",
        hint=(
            "start it (`sudo systemctl start docker`, or `sudo dockerd &` where there is no "
            f"service manager), {_FALLBACK_HINT}"
        ),
    )


def _reason(detail: str) -> str:
    """The root cause in docker-py's nested message: ``[Errno 111] Connection refused``."""
    if "FileNotFoundError" in detail:
        return "no socket there"
    if "ConnectionRefusedError" in detail:
        return "connection refused"
    found = re.search(r"\[Errno -?\d+\] [^'\")]+", detail)
    if found:
        return found.group(0).strip()
    return detail.splitlines()[0][:200] if detail else "no answer"


def require_image(
    client: docker.DockerClient, image: str, host: str = "", *, variant: str | None = None
) -> docker.models.images.Image:
    """The image, or a failure saying how to build it when the engine does not have it;
    ``variant`` is the sandbox image (slim, full) that ``image`` names, if it is one.

    Checked before a container is made: creating one from a missing image would try a
    pull, whose error names a registry rather than the missing image.
    """
    try:
        return client.images.get(image)
    except docker.errors.ImageNotFound:
        on = f" --host {host}" if host else ""
        build = (
            f"build it with `python -m conjure_kernel docker build --image {variant}{on}`"
            if variant
            else f"build the sandbox images with `python -m conjure_kernel docker build{on}`"
        )
        raise BackendUnavailable(
            f"the sandbox image {image} is not on {engine_name(host)}",
            hint=(
                f"{build} (add --offline where no registry is reachable), or choose another "
                "with image=slim|full|NAME"
            ),
        ) from None
    except docker.errors.DockerException as error:
        raise _unreachable(host, error) from None


def engine_room(client: docker.DockerClient, host: str = "") -> tuple[int, int]:
    """The engine's CPUs and bytes of memory, the most a sandbox can be given (0: not
    said)."""
    try:
        info = client.info()
    except docker.errors.DockerException as error:
        raise _unreachable(host, error) from None
    return int(info.get("NCPU") or 0), int(info.get("MemTotal") or 0)


def owner_labels(sandbox_id: str, kernel_id: str) -> dict[str, str]:
    """The labels of a new sandbox: enough to tell later whether its owner is gone."""
    return {
        LABEL: sandbox_id,
        _KERNEL: kernel_id,
        _OWNER_HOST: socket.gethostname(),
        _OWNER_PID: str(os.getpid()),
        _CREATED: str(int(time.time())),
    }


@dataclass(frozen=True)
class SandboxInfo:
    """A sandbox container as ``docker ps`` shows it."""

    name: str
    sandbox_id: str
    kernel_id: str
    owner: str
    """The owning process, ``host:pid``."""
    status: str
    created: float
    orphaned: bool
    """Its owning process is gone (it can only be told for owners on this host) or it no
    longer runs: nothing will ever use it again."""

    @property
    def age(self) -> float:
        return time.time() - self.created


def list_sandboxes(client: docker.DockerClient) -> list[SandboxInfo]:
    """Every conjure sandbox on the engine, running or not, oldest first."""
    found = []
    for container in client.containers.list(
        all=True, filters={"label": LABEL}, ignore_removed=True
    ):
        labels = container.labels
        host, pid = labels.get(_OWNER_HOST, ""), labels.get(_OWNER_PID, "")
        owner_gone = host == socket.gethostname() and not (
            pid.isdigit() and process_exists(int(pid))
        )
        found.append(
            SandboxInfo(
                name=container.name,
                sandbox_id=labels.get(LABEL, ""),
                kernel_id=labels.get(_KERNEL, ""),
                owner=f"{host}:{pid}",
                status=container.status,
                created=float(labels.get(_CREATED, "0") or 0),
                orphaned=owner_gone or container.status not in ("running", "created"),
            )
        )
    return sorted(found, key=lambda info: info.created)


def collect_garbage(client: docker.DockerClient, *, everything: bool = False) -> list[str]:
    """Remove orphaned sandboxes (or, with ``everything``, all of them) and the volumes no
    sandbox uses any more; the names of what went."""
    removed = []
    for info in list_sandboxes(client):
        if everything or info.orphaned:
            _remove_container(client, info.name)
            removed.append(info.name)
    in_use = {info.sandbox_id for info in list_sandboxes(client)}
    for volume in client.volumes.list(filters={"label": LABEL}):
        if volume.attrs.get("Labels", {}).get(LABEL) not in in_use:
            try:
                volume.remove(force=True)
            except docker.errors.APIError:  # a container outside our labels still uses it
                continue
            removed.append(volume.name)
    return removed


def _remove_container(client: docker.DockerClient, name: str) -> None:
    try:
        client.api.remove_container(name, force=True)
    except docker.errors.NotFound:  # it removed itself meanwhile (auto-remove)
        pass
    except docker.errors.APIError as error:
        if "already in progress" not in str(error):
            raise
