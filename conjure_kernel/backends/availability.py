"""What a backend has of the programs, Python modules and npm packages skills use.

One probe, a short POSIX shell script, asks a machine about all of them at once:
``command -v`` for each program, ``importlib.util.find_spec`` (and the distribution's
version) in the Python a skill's ``python`` command would start, and ``require.resolve``
in the Node there is. The local backend runs it on this machine, with the environment
its tools get; the docker backend in a throwaway container of its image
(``docker/probe.py``). Anthropic's hosted container cannot be probed before a turn, so
what Anthropic documents about it is all that is known. The native backend runs Python
methods in the kernel itself: only the kernel's own modules count there.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shlex
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ..errors import BackendError

__all__ = [
    "HOSTED_PROGRAMS",
    "HOSTED_PYTHON_MODULES",
    "Inventory",
    "Presence",
    "Wanted",
    "hosted_inventory",
    "kernel_inventory",
    "parse_probe",
    "probe_host",
    "probe_script",
]

Kind = Literal["program", "python", "node"]

HOSTED_PYTHON_MODULES = frozenset(
    {
        "pandas",
        "numpy",
        "scipy",
        "sklearn",
        "statsmodels",
        "matplotlib",
        "seaborn",
        "openpyxl",
        "xlsxwriter",
        "PIL",
        "pypdf",
        "pdfplumber",
        "docx",
        "pptx",
        "sympy",
        "mpmath",
        "tqdm",
        "dateutil",
        "pytz",
    }
)
"""The code-execution container's pre-installed Python libraries, as Anthropic's tool-use
documentation lists them (reference/claude-api/shared/tool-use-concepts.md)."""
HOSTED_PROGRAMS = frozenset({"bash", "sh", "python", "python3", "pip", "pip3"})
"""Programs the documentation implies: a bash tool, Python 3.11, ``pip install``."""

_PROGRAM = re.compile(r"[A-Za-z0-9][\w.+-]*")
_MODULE = re.compile(r"[A-Za-z_]\w*")
_DISTRIBUTION = re.compile(r"[A-Za-z0-9][\w.-]*")
_PACKAGE = re.compile(r"(@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*", re.IGNORECASE)
_PYTHON_CHECK = """\
import importlib.metadata, importlib.util, sys
for pair in sys.argv[1:]:
    name, _, distribution = pair.partition(":")
    try:
        found = importlib.util.find_spec(name) is not None
    except Exception:
        found = False
    version = ""
    if found:
        try:
            version = importlib.metadata.version(distribution)
        except Exception:
            pass
    print("python", name, int(found), version)
"""
_NODE_CHECK = """\
const fs = require("fs"), path = require("path");
for (const name of process.argv.slice(1)) {
  let found = true;
  try { require.resolve(name); } catch (error) {
    found = (require.resolve.paths(name) || []).some(
      (folder) => fs.existsSync(path.join(folder, name, "package.json")));
  }
  console.log("node", name, found ? 1 : 0);
}
"""
"""A package whose ``exports`` offer no ``require`` entry still counts when its folder is
on Node's search path."""


@dataclass(frozen=True)
class Wanted:
    """What to look for: programs, Python modules and npm packages."""

    programs: tuple[str, ...] = ()
    modules: tuple[tuple[str, str], ...] = ()
    """Top-level import names, each with the distribution whose version to report."""
    packages: tuple[str, ...] = ()

    def asked(self) -> list[tuple[Kind, str]]:
        return [
            *(("program", name) for name in self.programs),
            *(("python", name) for name, _ in self.modules),
            *(("node", name) for name in self.packages),
        ]


@dataclass(frozen=True)
class Presence:
    """Whether one thing is there: ``found`` None when that cannot be known."""

    found: bool | None
    version: str = ""


UNKNOWN = Presence(None)


@dataclass(frozen=True)
class Inventory:
    """What one place has of what was asked."""

    presence: Mapping[tuple[str, str], Presence] = field(default_factory=dict)
    python: str = ""
    """The interpreter modules were looked for in; empty when there is none."""
    node: str = ""

    def of(self, kind: str, name: str) -> Presence:
        return self.presence.get((kind, name), UNKNOWN)


def probe_script(wanted: Wanted) -> str:
    """The shell script that answers for ``wanted``: one ``KIND NAME 0|1 [VERSION]`` line
    each, and ``interpreter python|node PATH`` for the interpreters it used."""
    _check_names(wanted)
    lines = [
        'have() { if command -v "$1" >/dev/null 2>&1; then echo "program $1 1"; '
        'else echo "program $1 0"; fi; }',
        *(f"have {shlex.quote(name)}" for name in wanted.programs),
        "python=$(command -v python || command -v python3); node=$(command -v node || command -v nodejs)",
        '[ -n "$python" ] && echo "interpreter python $python"',
        '[ -n "$node" ] && echo "interpreter node $node"',
    ]
    if wanted.modules:
        pairs = " ".join(shlex.quote(f"{name}:{dist}") for name, dist in wanted.modules)
        lines.append(f'[ -n "$python" ] && "$python" -c {shlex.quote(_PYTHON_CHECK)} {pairs}')
    if wanted.packages:
        names = " ".join(shlex.quote(name) for name in wanted.packages)
        lines.append(f'[ -n "$node" ] && "$node" -e {shlex.quote(_NODE_CHECK)} {names}')
    return "\n".join([*lines, "true"]) + "\n"


def _check_names(wanted: Wanted) -> None:
    """Names go into a script: each must look like what it names."""
    checks = [
        *((_PROGRAM, name) for name in wanted.programs),
        *((_MODULE, name) for name, _ in wanted.modules),
        *((_DISTRIBUTION, dist) for _, dist in wanted.modules),
        *((_PACKAGE, name) for name in wanted.packages),
    ]
    for pattern, name in checks:
        if not pattern.fullmatch(name):
            raise ValueError(f"{name!r} is not a name to probe for")


def parse_probe(output: str, wanted: Wanted) -> Inventory:
    """The probe's answer; what it did not answer (no Python to import with) is absent."""
    presence: dict[tuple[str, str], Presence] = {key: Presence(False) for key in wanted.asked()}
    interpreters = {"python": "", "node": ""}
    for line in output.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "interpreter" and words[1] in interpreters:
            interpreters[words[1]] = words[2]
        elif len(words) >= 3 and (words[0], words[1]) in presence and words[2] in ("0", "1"):
            version = words[3] if len(words) > 3 else ""
            presence[(words[0], words[1])] = Presence(words[2] == "1", version)
    return Inventory(presence, interpreters["python"], interpreters["node"])


def probe_host(wanted: Wanted, *, timeout: float = 60) -> Inventory:
    """Probe this machine as the local backend's tools see it (the same ``PATH``), from an
    empty folder so that no file there stands in for a module."""
    with tempfile.TemporaryDirectory(prefix="conjure-probe-") as empty:
        try:
            done = subprocess.run(
                ["sh", "-c", probe_script(wanted)],
                cwd=empty,
                env=dict(os.environ),
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise BackendError(f"probing this machine failed: {error}") from None
    if done.returncode != 0:  # the script ends with `true`: it did not run
        raise BackendError(
            f"probing this machine failed (exit status {done.returncode}): "
            + " ".join(done.stderr.split())[:200]
        )
    return parse_probe(done.stdout, wanted)


def hosted_inventory(wanted: Wanted) -> Inventory:
    """What is known of Anthropic's code-execution container: documented things are there;
    of anything else nothing is known until a turn tries it."""
    presence = {}
    for kind, name in wanted.asked():
        documented = (kind == "program" and name in HOSTED_PROGRAMS) or (
            kind == "python" and name in HOSTED_PYTHON_MODULES
        )
        presence[(kind, name)] = Presence(True) if documented else UNKNOWN
    return Inventory(presence, python="python3.11")


def kernel_inventory(wanted: Wanted) -> Inventory:
    """The native backend's view: modules the kernel's own Python finds; no programs or
    npm packages, since its tools are Python methods, not commands."""
    presence = {key: Presence(False) for key in wanted.asked()}
    for name, distribution in wanted.modules:
        presence[("python", name)] = _kernel_module(name, distribution)
    return Inventory(presence, python="the kernel's own Python")


def _kernel_module(name: str, distribution: str) -> Presence:
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return Presence(False)
    try:
        return Presence(True, importlib.metadata.version(distribution))
    except importlib.metadata.PackageNotFoundError:
        return Presence(True)
