"""The sandbox image the docker backend runs tools in: its recipe, and building it.

``image/`` holds two recipes for the same content: a Dockerfile for machines that reach a
registry, and ``build-offline.sh`` (mmdebstrap from Debian's mirror, then ``docker import``)
for machines that do not. Both stamp the image with the label ``conjure.image-recipe`` set
to :func:`recipe_hash`, so an image built from an older recipe can be told apart and rebuilt.
"""

from __future__ import annotations

import collections
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors

from ...errors import BackendError
from ...tools.output import one_line
from .engine import connect

__all__ = [
    "DEFAULT_IMAGE",
    "IMAGE_DIR",
    "RECIPE_LABEL",
    "build_image",
    "image_is_current",
    "recipe_hash",
]

DEFAULT_IMAGE = "conjure-sandbox:latest"
IMAGE_DIR = Path(__file__).resolve().parent / "image"
RECIPE_LABEL = "conjure.image-recipe"
RECIPE_FILES = ("Dockerfile", "build-offline.sh")
OFFLINE_SCRIPT = "build-offline.sh"
TAIL_LINES = 8


def recipe_hash(directory: Path = IMAGE_DIR) -> str:
    """12 hex digits over both recipes, in the order the offline script hashes them, so the
    label it writes and this value agree; any change to either recipe changes the hash."""
    digest = hashlib.sha256()
    for name in RECIPE_FILES:
        digest.update((directory / name).read_bytes())
    return digest.hexdigest()[:12]


def image_is_current(client: docker.DockerClient, tag: str = DEFAULT_IMAGE) -> bool:
    """Whether ``tag`` exists and was built from the recipe in this checkout."""
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return image.labels.get(RECIPE_LABEL) == recipe_hash()


def build_image(
    tag: str = DEFAULT_IMAGE,
    *,
    offline: bool,
    host: str | None = None,
    echo: Callable[[str], object] = print,
) -> None:
    """Build the sandbox image as ``tag``, streaming the build log to ``echo``.

    Online, the engine builds the Dockerfile (it must reach a registry for the Debian base).
    Offline, ``build-offline.sh`` makes the root filesystem on this machine from Debian's
    mirror and imports it into the engine at ``host`` (the local one by default).
    """
    client = connect(host or "")
    try:
        if offline:
            _build_offline(tag, host, echo)
        else:
            _build_online(client, tag, echo)
    finally:
        client.close()


def _build_online(client: docker.DockerClient, tag: str, echo: Callable[[str], object]) -> None:
    """The low-level API rather than ``images.build``, which returns the log only at the end."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    failure = ""
    try:
        chunks = client.api.build(
            path=str(IMAGE_DIR),
            tag=tag,
            rm=True,
            forcerm=True,
            buildargs={"RECIPE": recipe_hash()},
            decode=True,
        )
        for chunk in chunks:
            if "error" in chunk:
                failure = str(chunk["error"]).strip()
                break
            text = chunk.get("stream") or ("" if "progress" in chunk else chunk.get("status", ""))
            for line in str(text).splitlines():
                if line.strip():
                    tail.append(line)
                    echo(line)
    except docker.errors.DockerException as error:
        failure = one_line(str(error), 300)
    if failure:
        raise BackendError(
            f"building {tag} failed: {failure}{_indented(tail)}",
            hint="if the engine cannot pull debian:bookworm-slim (no registry), "
            "build with --offline instead",
        )


def _build_offline(tag: str, host: str | None, echo: Callable[[str], object]) -> None:
    if shutil.which("mmdebstrap") is None:
        raise BackendError(
            "mmdebstrap is not installed; the offline build needs it",
            hint="apt-get install mmdebstrap (or run bash scripts/docker-setup.sh)",
        )
    # The script downloads wheels with this interpreter's pip, and the docker CLI it calls
    # must talk to the same engine as this client.
    env = {**os.environ, "PYTHON": sys.executable}
    if host:
        env["DOCKER_HOST"] = host
    command = ["bash", str(IMAGE_DIR / OFFLINE_SCRIPT), tag, recipe_hash()]
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        env=env,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            tail.append(line)
            echo(line)
        status = process.wait()
    finally:
        if process.poll() is None:  # interrupted: do not leave mmdebstrap running alone
            process.terminate()
            process.wait()
    if status != 0:
        raise BackendError(
            f"the offline build of {tag} failed (exit status {status}){_indented(tail)}",
            hint="the full log is above; the mirror is deb.debian.org unless MIRROR is set, "
            "and wheels come from PyPI through this Python's pip",
        )


def _indented(lines: collections.deque[str]) -> str:
    """The last lines of a build log, to quote below a failure."""
    shown = [line for line in lines if line.strip()]
    return "; last output:\n" + "\n".join(f"  {line}" for line in shown) if shown else ""
