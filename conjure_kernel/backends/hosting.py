"""What a hosted turn does beside the model's answer: live, or as the recording did.

A live turn uploads the session's local skills through the account's Skills API, keeps
the container from turn to turn (a new one, with a notice, when it expired) and
downloads the files its hosted calls name through the Files API. A replayed turn does
none of it: nothing is uploaded, sent or downloaded, no container is named, the files
are named where the recording saved them, and a notice says hosted tools were not
re-run.

Split from anthropic.py as a strategy: the turn's loop (``hosted_turn``) asks its
``Hosting`` and never which kind of turn it runs.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from ..clients.account import AccountClient
from ..clients.base import ModelResponse
from ..clients.files_api import download_file
from ..clients.replay import Replay
from ..clients.skills_api import upload_skill
from ..errors import BackendError, ModelError
from ..events import Event, FileCreated, Notice
from .base import TurnOptions
from .hosted_session import AnthropicSession, container_gone, until

__all__ = ["Hosting", "LiveHosting", "RecordedHosting", "hosting_for"]

FileRef = tuple[str, str]
"""(``tool_use_id``, ``file_id``) of a file a hosted call produced."""


class Hosting(Protocol):
    """The side of a hosted turn that is live or recorded: skills, container and files."""

    def prepare(self) -> AsyncIterator[Event]:
        """Before the first request: the skills on Anthropic's side, the container's reuse."""
        ...

    def container(self) -> dict[str, Any] | None:
        """The request's ``container``: the one to reuse and the skills to mount."""
        ...

    def ran(self, response: ModelResponse) -> None:
        """After a step: keep the container it ran in."""
        ...

    def container_refused(self, why: str) -> Notice | None:
        """The API refused the container (``why``: how): its notice if a new one may be
        started, None if the refusal stands."""
        ...

    def files(self, produced: Sequence[FileRef]) -> AsyncIterator[Event]:
        """The files a step's hosted calls produced, one event each."""
        ...

    def ended(self, hosted_calls: int) -> list[Event]:
        """What the person hears once the turn ends."""
        ...

    def duration(self, started: float) -> float:
        """How long a hosted call took that was seen starting at ``started``."""
        ...


def hosting_for(session: AnthropicSession, options: TurnOptions) -> Hosting:
    """The recording's side under replay, else the live one through the turn's account."""
    if options.replay is not None:
        return RecordedHosting(options.replay)
    return LiveHosting(session, options.account)


class LiveHosting:
    """A live turn: skills uploaded, the container reused while it lives, files downloaded."""

    def __init__(self, session: AnthropicSession, account: AccountClient | None) -> None:
        self.session = session
        self.account = account
        self.skills: list[dict[str, str]] = []
        """The ``container.skills`` of this turn's requests."""

    async def prepare(self) -> AsyncIterator[Event]:
        """Make sure each local skill is on Anthropic's side as it is now; a notice per upload."""
        session = self.session
        self.skills = list(session.remote)
        for skill in session.skills:
            digest = skill.content_hash()
            known = session.uploaded.get(skill.name)
            if known is None or known[0] != digest:
                if self.account is None:
                    raise BackendError(
                        f"skill {skill.name} must be uploaded to Anthropic, but this session "
                        "has no account client for the Skills API",
                        hint="give the session an account (the Anthropic client), or load only "
                        "skills already on Anthropic's side",
                    )
                upload = await upload_skill(self.account, skill, session.uploads)
                session.uploaded[skill.name] = (digest, upload)
                if upload.action != "unchanged":
                    yield Notice(upload.describe())
            self.skills.append(session.uploaded[skill.name][1].param)
        if session.container:  # reused until the API says it is gone (see hosted_turn.py)
            yield Notice(f"reusing container {session.container['id']}{until(session.container)}")

    def container(self) -> dict[str, Any] | None:
        container: dict[str, Any] = {}
        if self.session.container:
            container["id"] = self.session.container["id"]
        if self.skills:
            container["skills"] = self.skills
        return container or None

    def ran(self, response: ModelResponse) -> None:
        if response.container:
            self.session.container = dict(response.container)

    def container_refused(self, why: str) -> Notice | None:
        container, self.session.container = self.session.container, None
        return container_gone(container, why) if container else None

    async def files(self, produced: Sequence[FileRef]) -> AsyncIterator[Event]:
        """Each file downloaded into the workdir; one that cannot be is a warning only."""
        workdir = self.session.workdir
        for tool_use_id, file_id in produced:
            try:
                if self.account is None:
                    raise ModelError(
                        f"file {file_id} was not downloaded: this session has no account "
                        "client for the Files API"
                    )
                download = await download_file(self.account, file_id, workdir)
            except ModelError as error:  # the answer stands; the file is only missing
                yield Notice(f"{error}", "warning")
                continue
            if download.renamed:
                yield Notice(
                    f"{download.name} already exists in {workdir}, so the sandbox's file "
                    f"was saved as {download.path.name}",
                    "warning",
                )
            yield FileCreated(str(download.path), tool_use_id)

    def ended(self, hosted_calls: int) -> list[Event]:
        return []

    def duration(self, started: float) -> float:
        return time.perf_counter() - started


class RecordedHosting:
    """A replayed turn: nothing uploaded, sent or downloaded; files named as recorded."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay

    async def prepare(self) -> AsyncIterator[Event]:
        return
        yield  # an async generator with nothing to say

    def container(self) -> dict[str, Any] | None:
        return None

    def ran(self, response: ModelResponse) -> None:
        """The recorded container is long gone: the session keeps the one it had."""

    def container_refused(self, why: str) -> Notice | None:
        return None

    async def files(self, produced: Sequence[FileRef]) -> AsyncIterator[Event]:
        """Each call's files where the recording saved them (mapped to this machine), with a
        warning for each not here; or a notice naming the ids if the recording kept no paths."""
        by_call: dict[str, list[str]] = {}
        for tool_use_id, file_id in produced:
            by_call.setdefault(tool_use_id, []).append(file_id)
        for tool_use_id, ids in by_call.items():
            paths = self.replay.recorded_files(tool_use_id)
            if not paths:
                yield Notice(
                    f"file(s) {', '.join(ids)} of the recording are not downloaded on replay"
                )
            for path in paths:
                yield FileCreated(path, tool_use_id)
            for path in paths:
                if not Path(path).exists():
                    yield Notice(
                        f"{path} was downloaded when the turn was recorded and is not on "
                        "this machine",
                        "warning",
                    )

    def ended(self, hosted_calls: int) -> list[Event]:
        if not hosted_calls:
            return []
        return [
            Notice(
                f"replayed: hosted tools are not re-run offline; {hosted_calls} "
                "server-side call(s) and their files are shown as recorded"
            )
        ]

    def duration(self, started: float) -> float:
        return 0.0
