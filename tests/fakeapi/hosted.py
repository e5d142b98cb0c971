"""The fake API's hosted side: the Skills and Files APIs, and code-execution containers.

What the hosted backend needs of Anthropic besides messages, served as the SDK sends
and reads it: skill uploads are multipart with one ``files[]`` part per file, named by
its path under the skill's folder (``my-skill/scripts/x.py``); skills and versions are
the GA objects (``skill_…``, ``skillver_…``); lists are cursor pages; a download is the
file's bytes. The server's rules are applied as the real one is reported to apply them:
one top folder with a ``SKILL.md``, no frontmatter key outside the spec, a kebab-case
name free of reserved words, a size limit, the same name for every version, and no
skill deleted while it has versions.

Containers: a reply scripted with ``container=replies.AUTO`` runs in the container the request
names, or a new one, which then lives for an hour; ``expire_container`` makes every later
request naming it fail with the API's ``container_expired`` error, and ``stale_container``
with what a days-old container has been answered with instead: a plain 500 (or a 404).
Tests add the files a sandbox "produced" with ``add_file`` and script their ids in
result blocks.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import yaml

from .replies import ErrorReply

__all__ = ["ANTHROPIC_SKILLS", "FormPart", "HostedState", "Served"]

ANTHROPIC_SKILLS = {"xlsx": "Excel", "pptx": "PowerPoint", "docx": "Word", "pdf": "PDF"}
ANTHROPIC_VERSION = "20251013"
MAX_CONTAINER_SKILLS = 8
_ALLOWED_KEYS = frozenset(
    {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}
)
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_CONTAINER_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class FormPart:
    """One part of a multipart body: its field name, file name (if a file) and bytes."""

    name: str
    filename: str | None
    data: bytes


@dataclass(frozen=True)
class Served:
    """A successful response: JSON, or bytes (a download) with their content type."""

    status: int
    body: Any
    content_type: str = "application/json"


@dataclass
class _Version:
    id: str
    skill_id: str
    name: str
    description: str
    files: dict[str, bytes]
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "skill_version",
            "skill_id": self.skill_id,
            "name": self.name,
            "description": self.description,
            "created_at": self.created_at,
        }


@dataclass
class _Skill:
    id: str
    display_name: str
    source: str
    created_at: str
    updated_at: str
    versions: dict[str, _Version] = field(default_factory=dict)

    @property
    def latest(self) -> str:
        return next(reversed(self.versions)) if self.versions else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "skill",
            "display_name": self.display_name,
            "source": self.source,
            "latest_version_id": self.latest,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass
class _File:
    id: str
    filename: str
    data: bytes
    mime_type: str
    downloadable: bool
    expired: bool
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "file",
            "filename": self.filename,
            "mime_type": self.mime_type,
            "size_bytes": len(self.data),
            "created_at": self.created_at,
            "downloadable": self.downloadable,
        }


class HostedState:
    """Skills, files and containers of the fake account; every method is thread-safe."""

    def __init__(self) -> None:
        self.upload_limit = 30 * 2**20
        """Bytes one skill upload may hold; a larger one is a 413."""
        self._lock = threading.Lock()
        now = _now()
        self._skills: dict[str, _Skill] = {
            name: _Skill(name, title, "anthropic", now, now)
            for name, title in ANTHROPIC_SKILLS.items()
        }
        for name, skill in self._skills.items():
            skill.versions[ANTHROPIC_VERSION] = _Version(
                ANTHROPIC_VERSION, name, name, f"{skill.display_name} files", {}, now
            )
        self._files: dict[str, _File] = {}
        self._containers: dict[str, dict[str, Any]] = {}
        self._expired: set[str] = set()
        self._stale: dict[str, ErrorReply] = {}

    # -- what tests set up and look at ----------------------------------------------------

    def add_file(
        self,
        filename: str,
        data: bytes,
        *,
        mime_type: str = "application/octet-stream",
        downloadable: bool = True,
        expired: bool = False,
    ) -> str:
        """A file as if the sandbox wrote it; its id goes into a scripted result block."""
        file_id = f"file_011{uuid.uuid4().hex[:20]}"
        with self._lock:
            self._files[file_id] = _File(
                file_id, filename, data, mime_type, downloadable, expired, _now()
            )
        return file_id

    def expire_container(self, container_id: str) -> None:
        """Every later request naming this container fails as the API fails an expired one."""
        with self._lock:
            self._expired.add(container_id)

    def stale_container(self, container_id: str, *, status: int = 500) -> None:
        """Every later request naming this container fails as a days-old one has: a plain
        500 "Internal server error" (no error code, nothing naming the container), or with
        ``status=404`` a not-found that names it."""
        if status == 500:
            reply = ErrorReply(500, "api_error", "Internal server error")
        else:
            reply = ErrorReply(status, "not_found_error", f"Container {container_id} not found")
        with self._lock:
            self._stale[container_id] = reply

    def custom_skills(self) -> list[dict[str, Any]]:
        """Every uploaded skill as the API shows it, with its versions' files."""
        with self._lock:
            return [
                {
                    **skill.to_json(),
                    "versions": {v.id: sorted(v.files) for v in skill.versions.values()},
                }
                for skill in self._skills.values()
                if skill.source == "custom"
            ]

    def version_files(self, skill_id: str, version: str) -> dict[str, bytes]:
        with self._lock:
            return dict(self._skills[skill_id].versions[version].files)

    # -- messages -----------------------------------------------------------------------

    def container_problem(self, body: Mapping[str, Any]) -> ErrorReply | None:
        """The API's error for a request whose container cannot be used, else ``None``."""
        container = body.get("container")
        if container is None:
            return None
        spec = {"id": container} if isinstance(container, str) else dict(container)
        stale = self._stale.get(spec.get("id") or "")
        if stale is not None:
            return stale
        if spec.get("id") in self._expired:
            return ErrorReply(
                400,
                "invalid_request_error",
                f"Container {spec['id']} has expired and can no longer be used",
                error_code="container_expired",
            )
        skills = list(spec.get("skills") or [])
        if len(skills) > MAX_CONTAINER_SKILLS:
            return ErrorReply(
                400,
                "invalid_request_error",
                f"container.skills: at most {MAX_CONTAINER_SKILLS} skills, found {len(skills)}",
            )
        with self._lock:
            for skill in skills:
                known = self._skills.get(skill.get("skill_id", ""))
                version = skill.get("version", "latest")
                if known is None or (
                    known.source == "custom"
                    and version != "latest"
                    and version not in known.versions
                ):
                    return ErrorReply(
                        400,
                        "invalid_request_error",
                        f"container.skills: skill {skill.get('skill_id')} version {version} not found",
                    )
        return None

    def container_for(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The container an ``AUTO`` reply ran in: the request's own, or a new one."""
        container = body.get("container")
        spec = {"id": container} if isinstance(container, str) else dict(container or {})
        with self._lock:
            existing = self._containers.get(spec.get("id") or "")
            if existing is None:
                container_id = spec.get("id") or f"container_011{uuid.uuid4().hex[:20]}"
                expires = datetime.now(timezone.utc) + _CONTAINER_LIFETIME
                existing = self._containers[container_id] = {
                    "id": container_id,
                    "expires_at": expires.isoformat().replace("+00:00", "Z"),
                    "skills": [],
                }
            if spec.get("skills") is not None:
                existing["skills"] = [self._resolved(skill) for skill in spec["skills"]]
            return dict(existing)

    def _resolved(self, skill: Mapping[str, Any]) -> dict[str, Any]:
        version = skill.get("version", "latest")
        if version == "latest":
            version = self._skills[skill["skill_id"]].latest
        return {"type": skill["type"], "skill_id": skill["skill_id"], "version": version}

    # -- the Skills and Files APIs ----------------------------------------------------------

    def handle(
        self, method: str, path: str, query: Mapping[str, str], form: Sequence[FormPart]
    ) -> Served | ErrorReply | None:
        """The response to a Skills or Files API request; ``None`` for any other path."""
        parts = path.strip("/").split("/")
        if parts[:2] == ["v1", "skills"]:
            with self._lock:
                return self._skills_route(method, parts[2:], query, form)
        if parts[:2] == ["v1", "files"] and len(parts) in (3, 4):
            with self._lock:
                return self._files_route(method, parts[2], parts[3:], query)
        return None

    def _skills_route(
        self, method: str, rest: list[str], query: Mapping[str, str], form: Sequence[FormPart]
    ) -> Served | ErrorReply:
        if not rest:
            if method == "POST":
                return self._create_skill(form)
            if method == "GET":
                source = query.get("source")
                found = [s for s in self._skills.values() if source in (None, s.source)]
                return _page([s.to_json() for s in found], query)
            return _no_route(method, "/v1/skills")
        skill = self._skills.get(rest[0])
        if skill is None:
            return ErrorReply(404, "not_found_error", f"Skill {rest[0]} not found")
        if len(rest) == 1:
            if method == "GET":
                return Served(200, skill.to_json())
            if method == "DELETE":
                return self._delete_skill(skill)
        elif rest[1] == "versions" and len(rest) == 2:
            if method == "POST":
                return self._create_version(skill, form)
            if method == "GET":
                return _page([v.to_json() for v in reversed(skill.versions.values())], query)
        elif rest[1] == "versions" and len(rest) == 3:
            version = skill.versions.get(skill.latest if rest[2] == "latest" else rest[2])
            if version is None:
                return ErrorReply(404, "not_found_error", f"Skill version {rest[2]} not found")
            if method == "GET":
                return Served(200, version.to_json())
            if method == "DELETE":
                del skill.versions[version.id]
                return Served(200, {"id": version.id, "type": "skill_version_deleted"})
        return _no_route(method, "/v1/skills/" + "/".join(rest))

    def _create_skill(self, form: Sequence[FormPart]) -> Served | ErrorReply:
        upload = self._upload(form)
        if isinstance(upload, ErrorReply):
            return upload
        now = _now()
        skill = _Skill(f"skill_01{uuid.uuid4().hex[:22]}", "", "custom", now, now)
        titles = [p.data.decode() for p in form if p.name == "display_name"]
        version = _version(skill.id, upload)
        skill.display_name = titles[0] if titles else version.name
        skill.versions[version.id] = version
        self._skills[skill.id] = skill
        return Served(200, skill.to_json())

    def _create_version(self, skill: _Skill, form: Sequence[FormPart]) -> Served | ErrorReply:
        if skill.source != "custom":
            return ErrorReply(403, "permission_error", f"Skill {skill.id} is read-only")
        upload = self._upload(form)
        if isinstance(upload, ErrorReply):
            return upload
        version = _version(skill.id, upload)
        if skill.versions and version.name != skill.versions[skill.latest].name:
            return ErrorReply(
                400,
                "invalid_request_error",
                f"skill name {version.name!r} does not match the skill's name "
                f"{skill.versions[skill.latest].name!r}",
            )
        skill.versions[version.id] = version
        skill.updated_at = version.created_at
        return Served(200, version.to_json())

    def _delete_skill(self, skill: _Skill) -> Served | ErrorReply:
        if skill.source != "custom":
            return ErrorReply(403, "permission_error", f"Skill {skill.id} is read-only")
        if skill.versions:
            return ErrorReply(
                400,
                "invalid_request_error",
                f"Skill {skill.id} still has {len(skill.versions)} version(s); delete them first",
            )
        del self._skills[skill.id]
        return Served(200, {"id": skill.id, "type": "skill_deleted"})

    def _upload(self, form: Sequence[FormPart]) -> dict[str, Any] | ErrorReply:
        """The checked upload: name, description and files by path; or the API's refusal."""
        files = {p.filename: p.data for p in form if p.name == "files[]" and p.filename}
        if not files:
            return _invalid("files: at least one file is required")
        if sum(len(data) for data in files.values()) > self.upload_limit:
            return ErrorReply(413, "request_too_large", "Skill upload exceeds the size limit")
        tops = {name.split("/", 1)[0] for name in files}
        if len(tops) != 1 or any("/" not in name for name in files):
            return _invalid("All files must be in the same top-level directory")
        top = tops.pop()
        skill_md = files.get(f"{top}/SKILL.md")
        if skill_md is None:
            return _invalid("SKILL.md file must be exactly in the top-level folder")
        try:
            _, front, _ = skill_md.decode().split("---", 2)
            data = yaml.safe_load(front) or {}
        except (ValueError, UnicodeDecodeError, yaml.YAMLError):
            return _invalid("SKILL.md must start with YAML frontmatter")
        unexpected = sorted(set(data) - _ALLOWED_KEYS)
        if unexpected:
            return _invalid(f"unexpected key in SKILL.md frontmatter: {unexpected[0]}")
        name = str(data.get("name") or top)
        if not _NAME.match(name) or len(name) > 64:
            return _invalid(f"name {name!r}: lowercase letters, digits and hyphens only")
        if "anthropic" in name or "claude" in name:
            return _invalid(f"name {name!r} contains a reserved word")
        if not data.get("description"):
            return _invalid("description is required")
        return {"name": name, "description": str(data["description"]), "files": files}

    def _files_route(
        self, method: str, file_id: str, rest: list[str], query: Mapping[str, str]
    ) -> Served | ErrorReply:
        file = self._files.get(file_id)
        if file is None:
            return ErrorReply(404, "not_found_error", f"File {file_id} not found")
        if file.expired:
            return ErrorReply(
                404, "not_found_error", f"File {file_id} has expired", error_code="file_expired"
            )
        if method == "GET" and not rest:
            return Served(200, file.to_json())
        if method == "GET" and rest == ["content"]:
            if not file.downloadable:
                return ErrorReply(
                    400,
                    "invalid_request_error",
                    f"File {file_id} is not downloadable",
                    error_code="file_not_downloadable",
                )
            return Served(200, file.data, file.mime_type)
        if method == "DELETE" and not rest:
            del self._files[file_id]
            return Served(200, {"id": file_id, "type": "file_deleted"})
        return _no_route(method, f"/v1/files/{file_id}/" + "/".join(rest))


def _version(skill_id: str, upload: Mapping[str, Any]) -> _Version:
    return _Version(
        f"skillver_01{uuid.uuid4().hex[:22]}",
        skill_id,
        upload["name"],
        upload["description"],
        dict(upload["files"]),
        _now(),
    )


def _page(items: list[dict[str, Any]], query: Mapping[str, str]) -> Served:
    """A cursor page: ``limit`` items from the ``page`` token on, and the next token."""
    start = int(query.get("page") or 0)
    limit = int(query.get("limit") or 20)
    end = start + limit
    more = end < len(items)
    body = {"data": items[start:end], "has_more": more, "next_page": str(end) if more else None}
    return Served(200, body)


def _invalid(message: str) -> ErrorReply:
    return ErrorReply(400, "invalid_request_error", message)


def _no_route(method: str, path: str) -> ErrorReply:
    return ErrorReply(404, "not_found_error", f"fake Messages API has no route {method} {path}")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
