"""The commands that would add what a backend lacks, in the words of each backend.

On this machine that is Debian's ``apt-get`` for programs (and for Python libraries of a
system Python, whose ``pip`` refuses to install), ``pip`` for the rest, ``npm`` for Node
packages. For the docker backend it is the smallest sandbox image whose recipe has
everything (read from the recipe itself, so it holds before the image is built), or an
image of one's own for what none has.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from ..backends.docker.images import VARIANTS, image_tag, recipe_contents
from .code_needs import Need
from .package_names import DEBIAN_PROGRAMS, DEBIAN_PYTHON, MINIMUM_VERSIONS, distribution_of
from .skill_requirements import need_label

__all__ = ["Missing", "docker_commands", "local_commands", "variant_having"]


@dataclass(frozen=True)
class Missing:
    """A need a backend does not meet: absent, or there at too old a ``version``."""

    need: Need
    version: str = ""


def local_commands(missing: Sequence[Missing], python: str) -> list[str]:
    """What to run on this machine; ``python`` is the interpreter skills' ``python`` starts."""
    apt: dict[str, None] = {}
    pip: list[str] = []
    npm: list[str] = []
    by_hand: list[str] = []
    system_python = python.startswith("/usr/bin/")
    for item in missing:
        kind, name = item.need.kind, item.need.name
        if kind == "program" and name in DEBIAN_PROGRAMS:
            apt.update(dict.fromkeys(DEBIAN_PROGRAMS[name].split()))
        elif kind == "python":
            distribution = distribution_of(name)
            debian = DEBIAN_PYTHON.get(distribution.lower())
            if system_python and debian and not item.version:
                apt[debian] = None
            else:
                pip.append(_pip_spec(distribution))
        elif kind == "node":
            npm.append(name)
        elif kind == "program":
            by_hand.append(name)
    lines = []
    if apt:
        lines.append(f"sudo apt-get install {' '.join(apt)}")
    if pip:
        lines.append(f"{python or 'python3'} -m pip install {' '.join(pip)}")
    if npm:
        lines.append(
            f"npm install -g {' '.join(npm)} (and NODE_PATH=$(npm root -g) where Jupyter starts)"
        )
    if by_hand:
        lines.append(f"install by hand (no Debian package known): {', '.join(by_hand)}")
    return lines


def _pip_spec(distribution: str) -> str:
    minimum = MINIMUM_VERSIONS.get(distribution.lower())
    return shlex.quote(f"{distribution}>={minimum[0]}") if minimum else distribution


def docker_commands(missing: Sequence[Missing], variant: str, *, magics: bool = False) -> list[str]:
    """Switch to (or rebuild) the image whose recipe has what is missing; what no recipe
    has needs an image of one's own."""
    having = {item.need: variant_having(item.need) for item in missing}
    beyond = [need_label(need) for need, found in having.items() if found is None]
    wanted = [found for found in having.values() if found is not None]
    lines = []
    if wanted:
        best = max(wanted, key=VARIANTS.index)
        build = f"python -m conjure_kernel docker build --image {best}"
        if best == variant:
            lines.append(f"rebuild the {best} image, older than its recipe: {build}")
        else:
            switch = f"%backend docker image={best}" if magics else f"image={best}"
            lines.append(f"use the {best} image: {switch} (build it once: {build})")
    if beyond:
        them = "them" if len(beyond) > 1 else "it"
        lines.append(
            f"no conjure image has {', '.join(beyond)}: build an image FROM "
            f"{image_tag(VARIANTS[-1])} that installs {them}, and choose it with image=NAME"
        )
    return lines


def variant_having(need: Need) -> str | None:
    """The smallest image variant whose recipe installs ``need``, or None."""
    return next((variant for variant in VARIANTS if _recipe_has(variant, need)), None)


def _recipe_has(variant: str, need: Need) -> bool:
    debian, wheels, npm = _recipe(variant)
    if need.kind == "program":
        packages = DEBIAN_PROGRAMS.get(need.name, "").split()
        return bool(packages) and all(package in debian for package in packages)
    if need.kind == "python":
        distribution = distribution_of(need.name).lower()
        return distribution in wheels or DEBIAN_PYTHON.get(distribution) in debian
    return need.kind == "node" and need.name in npm


@cache
def _recipe(variant: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Debian packages, wheel names (lower case) and npm names a variant has, with those of
    the variants it builds on."""
    debian, wheels, npm = set(), set(), set()
    for layer in VARIANTS[: VARIANTS.index(variant) + 1]:
        contents = recipe_contents(layer)
        debian.update(contents.get("Debian", []))
        wheels.update(name.split("==")[0].lower() for name in contents.get("wheels", []))
        npm.update(name.rsplit("@", 1)[0] for name in contents.get("npm", []))
    return frozenset(debian), frozenset(wheels), frozenset(npm)
