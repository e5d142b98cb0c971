"""The sandbox images the docker backend runs tools in: their recipe, and building them.

``image/`` holds one recipe for two images: ``slim`` (Python with the document libraries,
poppler, qpdf, fonts, Node.js with docx and pptxgenjs) and ``full`` (slim plus LibreOffice
and pandoc). It can be built two ways with the same content: the Dockerfile's targets, for
machines that reach a registry, and ``build-offline.sh`` (mmdebstrap from Debian's mirror,
then ``docker import``) for machines that do not. Both read the packages from the list
files beside them. Each image is labelled with :func:`recipe_hash` and its variant, so an
image built from an older recipe can be told apart and rebuilt.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import re
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
    "DEFAULT_VARIANT",
    "IMAGE_DIR",
    "RECIPE_FILES",
    "RECIPE_LABEL",
    "VARIANTS",
    "VARIANT_LABEL",
    "VARIANT_TOOLS",
    "build_image",
    "image_is_current",
    "image_tag",
    "recipe_contents",
    "recipe_hash",
    "variant_of",
]

VARIANTS = ("slim", "full")
DEFAULT_VARIANT = "full"
"""The image the guide recommends, and ``image=``'s default: every document workflow."""
REPOSITORY = "conjure-sandbox"
LATEST = f"{REPOSITORY}:latest"
"""Another name for the default variant's image, as it was before there were two."""
IMAGE_DIR = Path(__file__).resolve().parent / "image"
RECIPE_LABEL = "conjure.image-recipe"
VARIANT_LABEL = "conjure.image-variant"
RECIPE_FILES = (
    "Dockerfile",
    "build-offline.sh",
    "debian-full.txt",
    "debian-slim.txt",
    "package-lock.json",
    "package.json",
    "requirements.txt",
)
"""In the order the offline script hashes them."""
_SLIM_TOOLS = (
    "Python 3 (also as `python`) with pandas, openpyxl, python-docx, python-pptx, pypdf, "
    "pdfplumber and reportlab; Node.js with docx and pptxgenjs; poppler-utils (pdftoppm, "
    "pdftotext); qpdf"
)
VARIANT_TOOLS = {
    "slim": _SLIM_TOOLS,
    "full": f"{_SLIM_TOOLS}; LibreOffice (`soffice --headless`); pandoc",
}
"""What each image offers, in a sentence for the system prompt."""
OFFLINE_SCRIPT = "build-offline.sh"
TAIL_LINES = 8


def image_tag(name: str) -> str:
    """The image ``image=name`` means: a variant's tag, or ``name`` itself."""
    return f"{REPOSITORY}:{name}" if name in VARIANTS else name


DEFAULT_IMAGE = image_tag(DEFAULT_VARIANT)


def variant_of(tag: str) -> str | None:
    """The variant a tag of ours names (``conjure-sandbox:latest`` is the default one);
    None for any other image."""
    if tag == LATEST:
        return DEFAULT_VARIANT
    return next((variant for variant in VARIANTS if tag == image_tag(variant)), None)


def recipe_hash(directory: Path = IMAGE_DIR) -> str:
    """12 hex digits over the recipe's files, in the order the offline script hashes them,
    so the label it writes and this value agree; any change to one changes the hash."""
    digest = hashlib.sha256()
    for name in RECIPE_FILES:
        digest.update((directory / name).read_bytes())
    return digest.hexdigest()[:12]


def image_is_current(client: docker.DockerClient, tag: str = DEFAULT_IMAGE) -> bool:
    """Whether ``tag`` exists and was built from the recipe in this checkout (as the
    variant it names, for a tag of ours)."""
    try:
        labels = client.images.get(tag).labels
    except docker.errors.ImageNotFound:
        return False
    variant = variant_of(tag)
    return labels.get(RECIPE_LABEL) == recipe_hash() and (
        variant is None or labels.get(VARIANT_LABEL) == variant
    )


def recipe_contents(variant: str, directory: Path = IMAGE_DIR) -> dict[str, list[str]]:
    """What building ``variant`` installs, read from the recipe: Debian packages, wheels
    and npm packages (for ``full``, what it adds to ``slim``)."""
    if variant == "full":
        return {"Debian": _package_list(directory / "debian-full.txt")}
    requirements = (directory / "requirements.txt").read_text()
    npm = json.loads((directory / "package.json").read_text())["dependencies"]
    return {
        "Debian": _package_list(directory / "debian-slim.txt"),
        "wheels": re.findall(r"^([A-Za-z][\w.-]*==\S+)", requirements, re.MULTILINE),
        "npm": [f"{name}@{version}" for name, version in npm.items()],
    }


def _package_list(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def build_image(
    variant: str | None = None,
    tag: str | None = None,
    *,
    offline: bool,
    host: str | None = None,
    echo: Callable[[str], object] = print,
) -> str:
    """Build ``variant`` as ``tag``, streaming the build log to ``echo``; the tag built.

    Without a variant, the one ``tag`` names (``conjure-sandbox:slim``), else the default;
    without a tag, the variant's own (and ``conjure-sandbox:latest`` too for the default
    variant). Online, the engine builds the Dockerfile's target (it must reach a registry
    for the Debian base). Offline, ``build-offline.sh`` makes the root filesystem on this
    machine from Debian's mirror and imports it into the engine at ``host`` (the local one
    by default).
    """
    named = variant_of(tag or "")
    variant = variant or named or DEFAULT_VARIANT
    if variant not in VARIANTS:
        raise BackendError(
            f"no sandbox image named {variant!r}", hint=f"choose one of {', '.join(VARIANTS)}"
        )
    if named not in (None, variant):
        raise BackendError(
            f"{tag} names the {named} image, not {variant}",
            hint=f"leave out --tag (the {variant} image is {image_tag(variant)}), or name another",
        )
    target = tag or image_tag(variant)
    client = connect(host or "")
    try:
        echo(_announcement(variant, target))
        if offline:
            _build_offline(variant, target, host, echo)
        else:
            _build_online(client, variant, target, echo)
        if tag is None and variant == DEFAULT_VARIANT:
            _retag(client, target, LATEST)
    finally:
        client.close()
    return target


def _retag(client: docker.DockerClient, source: str, alias: str) -> None:
    """Point ``alias`` at ``source``'s image; the image it named before goes once nothing
    names it (one a container still uses stays)."""
    image = client.images.get(source)
    try:
        previous = client.images.get(alias)
    except docker.errors.ImageNotFound:
        previous = None
    repository, _, name = alias.partition(":")
    image.tag(repository, name)
    if previous is not None and previous.id != image.id:
        previous.reload()
        if not previous.tags:
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(previous.id)


def _announcement(variant: str, tag: str) -> str:
    """The first lines of a build: what the image will hold, read from its recipe."""
    holds = "slim plus" if variant == "full" else "with"
    lines = [f"  {kind}: {', '.join(names)}" for kind, names in recipe_contents(variant).items()]
    return "\n".join([f"building {tag}, {holds}", *lines])


def _build_online(
    client: docker.DockerClient, variant: str, tag: str, echo: Callable[[str], object]
) -> None:
    """The low-level API rather than ``images.build``, which returns the log only at the end."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    failure = ""
    try:
        chunks = client.api.build(
            path=str(IMAGE_DIR),
            tag=tag,
            target=variant,
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


def _build_offline(variant: str, tag: str, host: str | None, echo: Callable[[str], object]) -> None:
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
    command = ["bash", str(IMAGE_DIR / OFFLINE_SCRIPT), variant, tag, recipe_hash()]
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
            "wheels come from PyPI through this Python's pip and npm packages from npm's "
            "registry",
        )


def _indented(lines: collections.deque[str]) -> str:
    """The last lines of a build log, to quote below a failure."""
    shown = [line for line in lines if line.strip()]
    return "; last output:\n" + "\n".join(f"  {line}" for line in shown) if shown else ""
