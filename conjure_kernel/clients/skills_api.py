"""Custom skills on Anthropic's side: checked, uploaded once per content, listed, deleted.

The hosted backend runs skills in Anthropic's sandbox, so each local skill is first
uploaded through the Skills API. An upload is remembered by the skill's content hash in
the user's Jupyter data folder (``conjure/skill_uploads.json``), per API URL and skill
name: an unchanged skill is never uploaded twice, across kernel restarts and between
kernels, and a changed one becomes a new version of the same remote skill. Versions
are pinned by id in requests, so the sandbox runs exactly the content that was hashed.

What the server would reject (a field outside the spec, a name it reserves, a folder
too large) is found here first and named per skill and file: a rejected upload says
less and costs a round trip.

Calls take the account client (``clients.account``), which lends its SDK client, so
failures are worded as the Messages API's are. ``remote_listing``, ``upload_path`` and
``delete_remote`` return what ``python -m conjure_kernel skills list|upload|delete``
(and the notebook) print.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

import anthropic
from jupyter_core.paths import jupyter_data_dir

from ..errors import ModelError, SkillError
from ..skills.discovery import load_skill
from ..skills.skill import Skill
from ..skills.validation import check_skill
from .atomic_write import write_atomically

if TYPE_CHECKING:
    from .account import AccountClient

__all__ = [
    "MAX_UPLOAD_BYTES",
    "RESERVED_WORDS",
    "SKILLS_API",
    "SkillUploads",
    "Upload",
    "UploadRecord",
    "delete_remote",
    "delete_skill",
    "describe_remote",
    "list_skills",
    "parse_skill_refs",
    "remote_listing",
    "upload_files",
    "upload_path",
    "upload_problems",
    "upload_skill",
]

SKILLS_API = "Skills API"

MAX_UPLOAD_BYTES = 30 * 2**20
"""The largest skill upload reported for the GA Skills API (older material says 8 MB;
unconfirmed). A larger folder is refused here, before any byte is sent."""
RESERVED_WORDS = ("anthropic", "claude")
"""Words Anthropic's platform refuses in a skill's name."""
_EXCLUDED_FOLDERS = frozenset({"__pycache__", "node_modules", ".git"})
_EXCLUDED_FILES = frozenset({".DS_Store"})
"""Left out of an upload, as Anthropic's ``package_skill.py`` leaves them out of a
``.skill`` (with ``*.pyc`` and a root-level ``evals/``): caches and build output."""
_CACHE_SCHEMA = 1


@dataclass(frozen=True)
class Upload:
    """Where a local skill lives on Anthropic's side, and what getting it there took."""

    name: str
    skill_id: str
    version_id: str
    action: Literal["uploaded", "new version", "unchanged"]

    @property
    def param(self) -> dict[str, str]:
        """The skill in a request's ``container.skills``, pinned to this version."""
        return {"type": "custom", "skill_id": self.skill_id, "version": self.version_id}

    def describe(self) -> str:
        where = f"{self.skill_id}, version {self.version_id}"
        if self.action == "uploaded":
            return f"skill {self.name} uploaded to Anthropic ({where})"
        if self.action == "new version":
            return f"skill {self.name} changed since its last upload: uploaded as a new version ({where})"
        return f"skill {self.name} unchanged since its upload ({where})"


@dataclass
class UploadRecord:
    """One local skill name's remote skill, and its version for each content hash."""

    skill_id: str
    versions: dict[str, str] = field(default_factory=dict)
    """Content hash → version id."""


class SkillUploads:
    """The remembered uploads, in a JSON file shared by every kernel of the user.

    Each change re-reads the file and replaces it atomically, so two kernels that
    upload at once lose neither's entries (short of the same skill at the same moment,
    which costs one upload more). An unreadable file counts as empty.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or Path(jupyter_data_dir()) / "conjure" / "skill_uploads.json"

    def lookup(self, api: str, name: str) -> UploadRecord | None:
        entry = self._read().get(api, {}).get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("skill_id"), str):
            return None
        return UploadRecord(entry["skill_id"], dict(entry.get("versions") or {}))

    def remember(self, api: str, name: str, digest: str, skill_id: str, version_id: str) -> None:
        with self._changing() as apis:
            skills = apis.setdefault(api, {})
            entry = skills.get(name)
            if not isinstance(entry, dict) or entry.get("skill_id") != skill_id:
                entry = skills[name] = {"skill_id": skill_id, "versions": {}}
            entry.setdefault("versions", {})[digest] = version_id

    def forget(self, api: str, *, skill_id: str, version_id: str | None = None) -> None:
        """Forget one version of a remote skill, or (without ``version_id``) all of it."""
        with self._changing() as apis:
            skills = apis.get(api, {})
            for name, entry in list(skills.items()):
                if not isinstance(entry, dict) or entry.get("skill_id") != skill_id:
                    continue
                if version_id is None:
                    del skills[name]
                else:
                    versions = entry.get("versions") or {}
                    entry["versions"] = {d: v for d, v in versions.items() if v != version_id}

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        apis = data.get("apis") if isinstance(data, dict) else None
        return apis if isinstance(apis, dict) else {}

    @contextlib.contextmanager
    def _changing(self) -> Iterator[dict[str, Any]]:
        apis = self._read()
        yield apis
        text = json.dumps({"schema": _CACHE_SCHEMA, "apis": apis}, indent=1, sort_keys=True)
        write_atomically(self.path, text)


def parse_skill_refs(text: str) -> list[dict[str, str]]:
    """Skills already on Anthropic's side, as ``container.skills`` entries.

    ``anthropic:xlsx,anthropic:pptx@20251013,skill_01Ab…,custom:ID@skillver_…``: Anthropic's
    skills by name, custom ones by id; the version is ``latest`` unless given. A
    ``ValueError`` names the item that is neither.
    """
    refs = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        ref, at, version = item.partition("@")
        source, colon, skill_id = ref.partition(":")
        if not colon and ref.startswith("skill_"):
            source, skill_id = "custom", ref
        if source not in ("anthropic", "custom") or not skill_id or (at and not version):
            raise ValueError(
                f"{item!r} is not a skill reference; write anthropic:NAME[@VERSION] for "
                "Anthropic's skills (anthropic:xlsx) or a custom skill's id skill_…[@VERSION]"
            )
        refs.append({"type": source, "skill_id": skill_id, "version": version or "latest"})
    return refs


def upload_problems(skill: Skill) -> list[str]:
    """What the Skills API would refuse in this skill, one line each; empty when none.

    Stricter than loading: every rule of the spec counts (the server refuses fields
    outside it), and so do the platform's own rules (reserved words, no XML in the
    description) and the size limit.
    """
    data, diagnostics = check_skill(skill.source)
    problems = [str(diagnostic) for diagnostic in diagnostics]
    shown = skill.origin / "SKILL.md"
    name, description = data.get("name"), data.get("description")
    if isinstance(name, str):
        problems += [
            f"{shown}: name: must not contain {word!r}, a word the Skills API reserves (found {name!r})"
            for word in RESERVED_WORDS
            if word in name.lower()
        ]
    if isinstance(description, str) and ("<" in description or ">" in description):
        problems.append(
            f"{shown}: description: must not contain XML tags (< or >), which the Skills API refuses"
        )
    size = sum(path.stat().st_size for _, path in _upload_entries(skill.root))
    if size > MAX_UPLOAD_BYTES:
        problems.append(
            f"{skill.origin}: its files come to {size / 2**20:.1f} MB, over the "
            f"{MAX_UPLOAD_BYTES / 2**20:g} MB a skill upload may hold"
        )
    return problems


def upload_files(root: Path) -> list[tuple[str, bytes]]:
    """The skill folder as the Skills API takes it: ``("name/relative/path", bytes)``.

    The folder's name stays on every file (a plain path would be cut to its base name,
    flattening the skill); caches and build output are left out.
    """
    return [(name, path.read_bytes()) for name, path in _upload_entries(root)]


async def upload_skill(
    account: AccountClient, skill: Skill, uploads: SkillUploads, *, verify: bool = True
) -> Upload:
    """The skill on Anthropic's side: its remembered version if unchanged, else uploaded.

    A changed skill becomes a new version of its remote skill; a skill never uploaded
    (or whose remote skill was deleted) a new remote skill. With ``verify``, a
    remembered version is looked up first (one small request), so one deleted since
    is uploaded again rather than failing the conversation's first request. A failure
    is a ``ModelError`` that names the skill.
    """
    problems = upload_problems(skill)
    if problems:
        raise SkillError(
            f"skill {skill.name} cannot be uploaded to Anthropic: " + "; ".join(problems),
            hint="fix the SKILL.md or the folder; the Skills API is stricter than local loading",
        )
    try:
        async with account.api_call(SKILLS_API) as sdk:
            return await _upload(sdk, skill, uploads, verify=verify)
    except ModelError as error:  # the API's own message does not say which skill
        error.args = (f"skill {skill.name} could not be uploaded: {error}",)
        raise


async def _upload(
    sdk: anthropic.AsyncAnthropic, skill: Skill, uploads: SkillUploads, *, verify: bool
) -> Upload:
    api = _api(sdk)
    digest = skill.content_hash()
    record = uploads.lookup(api, skill.name)
    known = record.versions.get(digest) if record else None
    if record and known:
        if not verify or await _version_exists(sdk, record.skill_id, known):
            return Upload(skill.name, record.skill_id, known, "unchanged")
        uploads.forget(api, skill_id=record.skill_id, version_id=known)
    files = upload_files(skill.root)
    if record:
        try:
            version = await sdk.skills.versions.create(record.skill_id, files=files)
        except anthropic.NotFoundError:  # deleted on Anthropic's side: start afresh
            uploads.forget(api, skill_id=record.skill_id)
        else:
            uploads.remember(api, skill.name, digest, record.skill_id, version.id)
            return Upload(skill.name, record.skill_id, version.id, "new version")
    created = await sdk.skills.create(files=files)
    uploads.remember(api, skill.name, digest, created.id, created.latest_version_id)
    return Upload(skill.name, created.id, created.latest_version_id, "uploaded")


async def list_skills(
    account: AccountClient, source: str | None = None
) -> list[anthropic.types.Skill]:
    """Every skill the key can use (custom and Anthropic's), or those of one ``source``."""
    async with account.api_call(SKILLS_API) as sdk:
        listing = sdk.skills.list(limit=100, **({"source": source} if source else {}))
        return [skill async for skill in listing]


def describe_remote(skill: anthropic.types.Skill) -> str:
    """One line: the reference to put in ``skills=``, the source, the name, the latest version."""
    prefix = "anthropic:" if skill.source == "anthropic" else ""
    updated = skill.updated_at.date().isoformat()
    return (
        f"{prefix}{skill.id}  {skill.source}  {skill.display_name}  "
        f"(latest {skill.latest_version_id}, updated {updated})"
    )


async def delete_skill(account: AccountClient, skill_id: str, uploads: SkillUploads) -> int:
    """Delete a custom skill with all its versions; how many versions there were.

    The versions go first: the Skills API has refused to delete a skill that still
    has some. What this machine remembers of the skill goes too.
    """
    async with account.api_call(SKILLS_API) as sdk:
        versions = [v.id async for v in sdk.skills.versions.list(skill_id, limit=100)]
        for version in versions:
            await sdk.skills.versions.delete(version, skill_id=skill_id)
        await sdk.skills.delete(skill_id)
        uploads.forget(_api(sdk), skill_id=skill_id)
    return len(versions)


async def remote_listing(account: AccountClient, source: str | None = None) -> list[str]:
    """What ``skills list`` prints: one line per skill, or one saying there is none."""
    skills = await list_skills(account, source)
    if not skills:
        kind = f"{source} " if source else ""
        return [f"no {kind}skills on Anthropic's side for this key"]
    return [describe_remote(skill) for skill in skills]


async def upload_path(account: AccountClient, path: Path | str) -> str:
    """What ``skills upload PATH`` prints: the skill at ``path`` uploaded unless unchanged."""
    return (await upload_skill(account, load_skill(path), SkillUploads())).describe()


async def delete_remote(account: AccountClient, skill_id: str) -> str:
    """What ``skills delete ID`` prints: the custom skill deleted with its versions."""
    versions = await delete_skill(account, skill_id, SkillUploads())
    return f"deleted skill {skill_id} and its {versions} version(s)"


async def _version_exists(sdk: anthropic.AsyncAnthropic, skill_id: str, version: str) -> bool:
    try:
        await sdk.skills.versions.retrieve(version, skill_id=skill_id)
    except anthropic.NotFoundError:
        return False
    return True


def _api(sdk: anthropic.AsyncAnthropic) -> str:
    """The cache's key for the account's API: uploads to one API are unknown to another."""
    return str(sdk.base_url).rstrip("/")


def _uploaded(name: PurePosixPath) -> bool:
    """Whether ``skill/relative/path`` goes into an upload (see ``_EXCLUDED_FOLDERS``)."""
    inside = name.parts[1:]
    return not (
        _EXCLUDED_FOLDERS.intersection(inside[:-1])
        or name.name in _EXCLUDED_FILES
        or name.suffix == ".pyc"
        or (inside[:1] == ("evals",) and len(inside) > 1)
    )


def _upload_entries(root: Path) -> list[tuple[str, Path]]:
    """The files of an upload, as ``(name in the upload, path on disk)``, in name order.

    Links are followed as the local backends follow them, but each folder is entered
    once (a link back to a parent would go round forever), and an entry that cannot be
    reached (a link loop, a link to nothing) is left out: loading the skill already
    warned about it.
    """
    found: list[tuple[str, Path]] = []
    entered: set[tuple[int, int]] = set()
    pending = [(root, PurePosixPath(root.name))]
    while pending:
        folder, name = pending.pop()
        try:
            info = folder.stat()
            entries = sorted(os.listdir(folder))
        except OSError:
            continue
        if (info.st_dev, info.st_ino) in entered:
            continue
        entered.add((info.st_dev, info.st_ino))
        for entry in entries:
            path, inside = folder / entry, name / entry
            try:
                mode = path.stat().st_mode
            except OSError:
                continue
            if stat.S_ISDIR(mode) and _uploaded(inside / "file"):
                pending.append((path, inside))
            elif stat.S_ISREG(mode) and _uploaded(inside):
                found.append((str(inside), path))
    return sorted(found)
