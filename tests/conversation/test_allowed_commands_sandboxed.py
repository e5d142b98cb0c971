"""Every command of the permission table that runs without a question, run for real:
nothing outside its workspace changes, and under read-only mode nothing inside either.

The commands and their sessions are ``test_shell_commands.py``'s (``ask`` with its allow
rules, and ``read-only``); which of them run is asked of ``decide`` itself, so a change to
the rules changes what is run here. Each runs in the local backend's bubblewrap sandbox,
planned with its writable root one level above the workspace, where beside the
workspace lie the places a command must leave alone: a folder of canary files, the
command's ``$HOME`` and its private ``/tmp``. A write to them succeeds, so the snapshots
(paths, modes, sizes, mtimes, content hashes) taken before and after see it: this checks
the rules, not the sandbox, which keeps the rest of the host read-only so that a command
slipping past the rules harms nothing. The workspace is a git repository whose
``.git/config`` names programs (``core.fsmonitor``, a clean filter, a pager, aliases)
that write to the canary folder.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shlex
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_shell_commands import ALLOW, TABLE, decision

from conjure_kernel.backends.bwrap import sandbox_for
from conjure_kernel.backends.local_workspace import LocalWorkspace
from conjure_kernel.conversation.places import Places
from conjure_kernel.tools.values import ExecResult

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="bubblewrap is Linux's")

SESSIONS = {"read-only": {}, "ask": {"allow": ALLOW}}
"""The table's sessions in which a command can run without a question (``auto`` runs
everything its deny rule lets through, by design)."""
WORKSPACE = "work"
OUTSIDE = ("outside", "home", "tmp")
"""Beside the workspace: canary files, ``$HOME``, and what the sandbox mounts at /tmp."""
TIMEOUT = 20.0
"""Seconds a command may take; each reads a handful of small files."""


def sessions_running(command: str, places: Places) -> list[str]:
    """The sessions of the table in which ``command`` runs with no one asked."""
    return [
        mode
        for mode, rules in SESSIONS.items()
        if decision(command, mode, places, **rules) == "run"
    ]


def allowed_commands() -> list:
    """The table's rows that some session runs without a question, decided for a
    workspace where nothing is yet (each test decides again in its own)."""
    places = Places.of({"workdir": os.path.join(tempfile.gettempdir(), "conjure-no-workspace")})
    cases = []
    for command, *_ in TABLE:
        sessions = sessions_running(command, places)
        if not sessions:
            continue
        cases.append(pytest.param(command, sessions))
    return cases


Snapshot = dict[str, dict[str, tuple]]


@dataclass
class Sandboxed:
    """A fresh workspace and its neighbours, and the sandbox its commands run in."""

    root: Path
    workspace: LocalWorkspace

    @property
    def work(self) -> Path:
        return self.root / WORKSPACE

    def places(self) -> Places:
        return Places.of({"workdir": str(self.work)})

    def run(self, command: str) -> ExecResult:
        """``command`` in the workspace, as a bash_tool call runs it, at most TIMEOUT s."""
        script = f"cd {shlex.quote(str(self.work))} || exit 97\n{command}"
        return asyncio.run(self.workspace.exec(script, timeout=TIMEOUT, keep=100_000))

    def snapshot(self) -> Snapshot:
        return {place: snapshot_of(self.root / place) for place in (WORKSPACE, *OUTSIDE)}


def snapshot_of(folder: Path) -> dict[str, tuple]:
    """Each path under ``folder`` (links not followed) with what a write would change."""
    found: dict[str, tuple] = {}
    for top, folders, files in os.walk(folder):
        for name in [".", *folders, *files]:
            path = Path(top, name)
            info = path.lstat()
            key = str(path.relative_to(folder))
            if stat.S_ISREG(info.st_mode):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                found[key] = (info.st_mode, info.st_size, info.st_mtime_ns, digest)
            elif stat.S_ISLNK(info.st_mode):
                found[key] = (info.st_mode, os.readlink(path))
            else:
                found[key] = (info.st_mode, info.st_mtime_ns)
    return found


def changed(before: Snapshot, after: Snapshot, *places: str) -> dict[str, list[str]]:
    """The paths that differ, by place; only the places that changed."""
    differences = {}
    for place in places:
        old, new = before[place], after[place]
        paths = sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
        if paths:
            differences[place] = paths
    return differences


def populate(root: Path) -> None:
    """The files the table's commands name, a git repository with a hostile config, and
    canaries beside it."""
    work, outside = root / WORKSPACE, root / "outside"
    for folder in (work / "src", *(root / place for place in OUTSIDE)):
        folder.mkdir(parents=True)
    for name in ("README.md", "a.txt", "x", "a", "b", "victim", "x.tmp", "a;b", "c|d"):
        (work / name).write_text(f"{name}\nfoo\n")
    (work / "in.txt").write_text("b\na\nb\n")
    (work / "notes.txt").write_text("rm this later\n")
    (work / "main.py").write_text("print('hi')\n")
    (work / "src" / "module.py").write_text("X = 1\n")
    (work / "x.sh").write_text("touch X\n")
    (outside / "canary.txt").write_text("must not change\n")
    (root / "home" / ".bashrc").write_text("# canary\n")
    (root / "tmp" / "canary").write_text("must not change\n")
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    (work / ".gitattributes").write_text("* filter=hostile\n")
    for arguments in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "start"]):
        subprocess.run([*git, *arguments], check=True, capture_output=True)
    (work / "README.md").write_text("changed since the commit: git status cleans it again\n")
    later = (work / "main.py").stat().st_mtime + 5  # same size, newer: its content is
    os.utime(work / "main.py", (later, later))  # read again, through the clean filter
    with (work / ".git" / "config").open("a") as config:
        config.write(hostile_git_config(outside))


def hostile_git_config(outside: Path) -> str:
    def leaves(mark: str) -> str:
        return f"touch {shlex.quote(str(outside / mark))}"

    return (
        f'[core]\n\tfsmonitor = "{leaves("fsmonitor-ran")}; false"\n'
        f'\tpager = "{leaves("pager-ran")}; cat"\n'
        f'[filter "hostile"]\n\tclean = "{leaves("filter-ran")}; cat"\n'
        f'[alias]\n\tst = "!{leaves("alias-ran")}"\n\tls = "!{leaves("alias-ran")}"\n'
    )


@pytest.fixture
def sandboxed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path.resolve()
    populate(root)
    sandbox = sandbox_for(root, root / "tmp", skills=[], network=False)
    asyncio.run(sandbox.probe())  # where it cannot start, say why and how to fix it
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    workspace = LocalWorkspace(root / WORKSPACE, sandbox=sandbox)
    sandboxed = Sandboxed(root, workspace)
    sandboxed.run("true")  # bwrap makes its mount points (the root's path, under /tmp) once
    yield sandboxed
    asyncio.run(workspace.aclose())


def test_the_table_has_commands_that_run_without_a_question():
    assert len(allowed_commands()) >= 25


@pytest.mark.parametrize(("command", "sessions"), allowed_commands())
def test_an_allowed_command_changes_nothing_it_should_not(command, sessions, sandboxed):
    running = sessions_running(command, sandboxed.places())
    if command.startswith("git "):  # the repository's config names programs: asked
        assert running == [], running
        return
    assert running == sessions
    before = sandboxed.snapshot()
    result = sandboxed.run(command)
    after = sandboxed.snapshot()
    assert not result.timed_out and not result.background, result
    assert result.exit_code != 97, result  # it ran in the workspace
    assert changed(before, after, *OUTSIDE) == {}
    if "read-only" in sessions:
        assert changed(before, after, WORKSPACE) == {}


def test_the_harness_sees_a_write_in_each_place(sandboxed):
    """A command the rules refuse, through the same harness: every place it writes shows."""
    command = 'echo more >> a.txt; echo x >> ../outside/canary.txt; touch "$HOME/m" /tmp/m'
    assert sessions_running(command, sandboxed.places()) == []
    before = sandboxed.snapshot()
    sandboxed.run(command)
    assert changed(before, sandboxed.snapshot(), WORKSPACE, *OUTSIDE) == {
        WORKSPACE: ["a.txt"],
        "outside": ["canary.txt"],
        "home": [".", "m"],
        "tmp": [".", "m"],
    }


def test_the_repositorys_config_runs_programs_when_git_runs(sandboxed):
    """The trap is armed: had an allowed git command run, it would have shown."""
    command = "git status"
    assert sessions_running(command, Places.of({"workdir": str(sandboxed.root)})) != []
    assert sessions_running(command, sandboxed.places()) == []
    sandboxed.run(command)
    ran = {path.name for path in (sandboxed.root / "outside").iterdir()}
    assert {"fsmonitor-ran", "filter-ran"} <= ran
