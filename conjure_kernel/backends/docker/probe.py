"""Ask a sandbox image what it has: one short container, no network, answers kept per image.

Split from ``availability``: it is the same probe, run through the engine. The container
gets the sandbox's safeguards that matter for a command that only looks (no network, no
capabilities, a read-only root, small memory and process limits) and is removed at once.
An image id never changes its content, so each answer is kept for as long as the process
lives and a second check of the same image asks only about what is new.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import docker
import docker.errors
import requests.exceptions

from ...errors import BackendError
from ...tools.output import one_line
from ..availability import Inventory, Presence, Wanted, parse_probe, probe_script
from .engine import connect, engine_name, require_image
from .images import VARIANT_LABEL

__all__ = ["ImageInventory", "probe_image"]

PROBE_SECONDS = 120.0
_known: dict[str, dict[tuple[str, str], Presence]] = {}
_interpreters: dict[str, tuple[str, str]] = {}


@dataclass(frozen=True)
class ImageInventory(Inventory):
    """What an image has, and which image that is."""

    image: str = ""
    image_id: str = ""
    variant: str = ""
    """The recipe that built it (``slim``, ``full``), or empty for any other image."""


def probe_image(image: str, wanted: Wanted, *, host: str = "") -> ImageInventory:
    """What ``image`` on the engine at ``host`` has of ``wanted``.

    Raises ``BackendUnavailable`` when the engine does not answer or lacks the image, and
    ``BackendError`` when the probe itself fails.
    """
    client = connect(host, timeout=PROBE_SECONDS)
    try:
        require_image(client, image, host)
        found = client.images.get(image)
        known = _known.setdefault(found.id, {})
        new = Wanted(
            tuple(name for name in wanted.programs if ("program", name) not in known),
            tuple(pair for pair in wanted.modules if ("python", pair[0]) not in known),
            tuple(name for name in wanted.packages if ("node", name) not in known),
        )
        if new.asked() or found.id not in _interpreters:
            answer = parse_probe(_run(client, found.id, probe_script(new), host), new)
            known.update(answer.presence)
            _interpreters[found.id] = (answer.python, answer.node)
    finally:
        client.close()
    python, node = _interpreters[found.id]
    return ImageInventory(
        {key: known[key] for key in wanted.asked()},
        python,
        node,
        image=image,
        image_id=found.short_id.removeprefix("sha256:"),
        variant=(found.labels or {}).get(VARIANT_LABEL, ""),
    )


def _run(client: docker.DockerClient, image_id: str, script: str, host: str) -> str:
    """The script's output from a container of the image, removed however it ends."""
    try:
        container = client.containers.create(
            image_id,
            entrypoint=["sh", "-c", script],
            network_mode="none",
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit="256m",
            pids_limit=64,
            tmpfs={"/tmp": "size=16m"},
        )
    except docker.errors.DockerException as error:
        raise BackendError(f"probing {image_id} failed: {one_line(str(error), 300)}") from None
    try:
        container.start()
        status = container.wait(timeout=PROBE_SECONDS).get("StatusCode", -1)
        if status != 0:  # the script ends with `true`: it did not run (no sh in the image?)
            said = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
            raise BackendError(
                f"probing the image failed (exit status {status}): {one_line(said, 200)}"
            )
        return container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
    except requests.exceptions.RequestException:
        raise BackendError(
            f"probing the image on {engine_name(host)} took over {PROBE_SECONDS:g} s"
        ) from None
    except docker.errors.DockerException as error:
        raise BackendError(f"probing the image failed: {one_line(str(error), 300)}") from None
    finally:
        with contextlib.suppress(docker.errors.DockerException):
            container.remove(force=True)
