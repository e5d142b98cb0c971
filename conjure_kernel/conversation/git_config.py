"""Whether a repository's own configuration would make ``git`` run programs.

Split from permissions.py: an allow rule on ``git status*`` means the person trusts git,
not whatever the repository's ``.git/config`` names (``core.fsmonitor``, a ``filter``'s
``clean`` command, a pager, an alias, a hook), which git runs as part of ``status``.
A repository is a file the tools (or whoever cloned it) may have written, so before an
allowed git command runs its configuration is read: anything outside a list of settings
known to run nothing, an ``include``, or an executable hook makes the command a question.
The user's own and the system's configuration are trusted, as the person's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["configured_programs"]

_INERT: dict[str, frozenset[str] | None] = {
    "core": frozenset(
        [
            "repositoryformatversion",
            "filemode",
            "bare",
            "logallrefupdates",
            "ignorecase",
            "precomposeunicode",
            "symlinks",
            "autocrlf",
            "eol",
            "safecrlf",
            "quotepath",
            "checkstat",
            "trustctime",
            "untrackedcache",
            "splitindex",
            "preloadindex",
            "sparsecheckout",
            "sparsecheckoutcone",
            "commitgraph",
            "multipackindex",
            "abbrev",
            "compression",
            "bigfilethreshold",
            "longpaths",
            "protecthfs",
            "protectntfs",
            "worktree",
            "excludesfile",
            "attributesfile",
        ]
    ),
    "remote": frozenset(
        ["url", "fetch", "pushurl", "push", "tagopt", "prune", "mirror", "skipdefaultupdate"]
    ),
    "branch": frozenset(["remote", "merge", "rebase", "pushremote", "description"]),
    "submodule": frozenset(["url", "active", "branch", "path", "ignore", "fetchrecursesubmodules"]),
    "user": frozenset(["name", "email"]),
    "init": frozenset(["defaultbranch"]),
    "extensions": frozenset(["objectformat", "worktreeconfig", "preciousobjects", "partialclone"]),
    "pull": frozenset(["rebase", "ff"]),
    "push": frozenset(["default", "autosetupremote", "followtags"]),
    "fetch": frozenset(["prune", "prunetags"]),
    "status": frozenset(
        ["showuntrackedfiles", "short", "branch", "relativepaths", "submodulesummary"]
    ),
    "color": None,
    "advice": None,
    "gc": None,
    "index": None,
    "pack": None,
    "lfs": frozenset(["repositoryformatversion"]),
}
"""Sections (by name; subsections such as ``remote "origin"`` are alike) and the keys in
them that run nothing; None: every key of the section is inert."""
_SECTION = re.compile(r'[ \t]*\[[ \t]*([A-Za-z0-9.-]+)(?:[ \t]+"(?:[^"\\\n]|\\.)*")?[ \t]*\]')
_KEY = re.compile(r"[ \t]*([A-Za-z][A-Za-z0-9-]*)[ \t]*(?==|[#;\r\n]|$)")


def configured_programs(folders: Iterable[str]) -> str | None:
    """Why git run in any of ``folders`` may run a program its repository configures (the
    first such setting or hook found), or None when nothing there names one."""
    for git_dir in dict.fromkeys(found for folder in folders for found in _git_dirs(folder)):
        for config in _configs(git_dir):
            try:
                text = config.read_text(errors="replace")
            except FileNotFoundError:
                continue
            except OSError as error:
                return f"{config} cannot be read ({error.strerror})"
            setting = _first_active(text)
            if setting is not None:
                return f"{config} sets {setting}, which can name a program git runs"
        hook = _hook(git_dir)
        if hook is not None:
            return f"the repository has the hook {hook}, a program git may run"
    return None


def _git_dirs(folder: str) -> Iterator[Path]:
    """The repository git would use from ``folder``: on the way up, the first ``.git``
    (a folder, or a file naming one), or a folder that is itself a repository's (bare)."""
    for place in [Path(folder), *Path(folder).parents]:
        dot_git = place / ".git"
        if dot_git.is_dir():
            yield dot_git
        elif dot_git.is_file():
            pointed = dot_git.read_text(errors="replace").partition("gitdir:")[2].strip()
            if not pointed:
                continue
            yield (place / pointed).resolve()
        elif _is_git_dir(place):
            yield place
        else:
            continue
        return


def _is_git_dir(place: Path) -> bool:
    """What git takes for a repository's folder: ``HEAD``, ``objects`` and ``refs``."""
    return (place / "HEAD").is_file() and (place / "objects").is_dir() and (place / "refs").is_dir()


def _configs(git_dir: Path) -> list[Path]:
    """Its configuration files: its own, the worktree's, and the common one."""
    found = [git_dir / "config", git_dir / "config.worktree"]
    common = git_dir / "commondir"
    if common.is_file():
        found.append((git_dir / common.read_text(errors="replace").strip() / "config").resolve())
    modules = git_dir / "modules"
    if modules.is_dir():
        found += sorted(modules.glob("**/config"))
    return found


def _first_active(text: str) -> str | None:
    """The first ``section.key`` outside the inert list, or a section outside it."""
    for section, key in _settings(text):
        name = section.split(".")[0]
        if name not in _INERT:
            return f"[{section}]"
        inert = _INERT[name]
        if key and inert is not None and key not in inert:
            return f"{section}.{key}"
    return None


def _settings(text: str) -> Iterator[tuple[str, str]]:
    """``(section, key)`` for each section header (key empty) and each key, read as git
    reads them: a value may go on over a line that ends in an unescaped backslash, and
    ``#`` or ``;`` start a comment outside quotes."""
    section, at = "", 0
    while at < len(text):
        header = _SECTION.match(text, at)
        if header is not None:
            section = header.group(1).lower()
            yield section, ""
            at = header.end()
            continue
        key = _KEY.match(text, at)
        if key is not None:
            yield section, key.group(1).lower()
            at = _value_end(text, key.end())
            continue
        at = _line_end(text, at)


def _value_end(text: str, at: int) -> int:
    """Where a value starting at ``at`` ends: after its line, continuations included."""
    quoted = False
    while at < len(text):
        char = text[at]
        if char == "\\":
            at += 2  # an escaped character, or a newline that continues the value
            continue
        if char == '"':
            quoted = not quoted
        elif (char in "#;" and not quoted) or char == "\n":
            return _line_end(text, at)
        at += 1
    return at


def _line_end(text: str, at: int) -> int:
    end = text.find("\n", at)
    return len(text) if end < 0 else end + 1


def _hook(git_dir: Path) -> str | None:
    """An executable hook in the repository's hooks folder (samples do not run)."""
    hooks = git_dir / "hooks"
    try:
        names = sorted(os.listdir(hooks))
    except OSError:
        return None
    for name in names:
        path = hooks / name
        if not name.endswith(".sample") and path.is_file() and os.access(path, os.X_OK):
            return name
    return None
