"""The hosted backend: Claude runs code and skills in Anthropic's own sandbox.

No local infrastructure: each request carries the code-execution tool and a
``container`` naming the skills to mount there, Anthropic's own (xlsx, pptx, docx, pdf)
by name and the session's local skills once uploaded (``clients.skills_api``). The API
runs the tools itself, so this backend has its own loop instead of the client-side one:

1. upload each local skill not yet on Anthropic's side in this content (a skill edited
   since the last turn is uploaded again, as a new version);
2. send the history with the tool and the container, and stream the answer, reporting
   each server tool call and its result as they arrive, as local calls are reported;
3. download every file the step's results name into the workdir;
4. on ``pause_turn`` (the server's own loop reached its limit) send the paused content
   back unchanged, with the same tool and container and no new user message, at most
   ``max_continuations`` times: the steps show as one turn;
5. else the turn ends.

The container is kept from turn to turn while it lives. One that expired (by its
``expires_at``, or refused by the API) is replaced by a new one with a notice, since
its files and state are gone, and the turn goes on. On replay nothing is uploaded,
downloaded or sent: hosted calls and their files come from the recording, and a notice
says that hosted tools were not re-run.

After any failure or interrupt the history stays valid: an empty turn is taken back,
and a server tool call the turn never saw answered (a pause cut short) is taken out of
its message, since the API refuses such a call without its result. Permission rules do
not apply: nothing runs on this machine, and the API runs its tools before any gate
could be asked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..clients.anthropic_client import CODE_EXECUTION_TOOLS, ContainerExpired, SdkClient
from ..clients.base import (
    ModelClient,
    ModelRequest,
    ModelResponse,
    RetryWait,
    ServerToolResult,
    ServerToolUse,
    StreamItem,
    TextChunk,
    Usage,
)
from ..clients.files_api import Download, download_file
from ..clients.replay_client import ReplayClient
from ..clients.server_tools import file_ids, tool_call, tool_result
from ..clients.skills_api import (
    SkillUploads,
    Upload,
    parse_skill_refs,
    upload_problems,
    upload_skill,
)
from ..errors import (
    BackendError,
    BackendSettingError,
    IncompleteResponse,
    ModelError,
    SkillError,
    TurnLimitReached,
)
from ..events import (
    Event,
    FileCreated,
    ModelStepFinished,
    Notice,
    ServerToolCallFinished,
    ServerToolCallStarted,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TurnEnded,
    UsageReported,
)
from ..skills.prompt import render_system_prompt
from ..skills.skill import Skill
from ..tools.values import ToolCall, ToolResult
from .base import SessionOptions, TurnOptions
from .gate import PermissionMode
from .local import host_workdir
from .loop import _repair_history, drop_unanswered_server_calls
from .settings import Setting

if TYPE_CHECKING:
    pass

__all__ = ["MAX_SKILLS", "AnthropicBackend", "AnthropicSession"]

MAX_SKILLS = 8
"""Skills one request may carry, by the (beta-era) Skills guide; the GA limit is unconfirmed."""
ENVIRONMENT = (
    "Your code runs in Anthropic's code-execution sandbox, not on the user's machine; "
    "the files your code writes there are downloaded for the user."
)
NO_CLIENT_TOOLS = "not run: the anthropic backend runs only Anthropic's hosted tools"


@dataclass(kw_only=True)
class AnthropicSession:
    """One conversation's hosted setup: its tool, skills, container and download folder."""

    backend_type: str = "anthropic"
    workdir: Path
    """Where downloaded files land on the host."""
    tool: str
    """The code-execution tool type (``code_execution_20260521``)."""
    skills: tuple[Skill, ...] = ()
    """Local skills, uploaded before the first request that needs them."""
    remote: tuple[dict[str, str], ...] = ()
    """Skills already on Anthropic's side (the ``skills`` setting), as ``container.skills``."""
    max_continuations: int = 10
    max_output_chars: int = 30_000
    system_prompt: str = field(default="", repr=False)
    uploads: SkillUploads = field(default_factory=SkillUploads, repr=False)
    container: dict[str, Any] | None = None
    """The container the last step ran in (``id``, ``expires_at``), reused while it lives."""
    uploaded: dict[str, tuple[str, Upload]] = field(default_factory=dict)
    """Local skill name → (content hash, its upload), as this session last sent it."""

    @property
    def paths(self) -> dict[str, str]:
        """Only the workdir is the host's: skills and the tools' files live in the sandbox."""
        return {"workdir": str(self.workdir)}

    def describe(self) -> str:
        refs = [
            f"anthropic:{r['skill_id']}@{r['version']}"
            for r in self.remote
            if r["type"] == "anthropic"
        ]
        refs += [f"{r['skill_id']}@{r['version']}" for r in self.remote if r["type"] == "custom"]
        refs += [f"{skill.name} (local)" for skill in self.skills]
        container = (
            f"container {self.container['id']}{_until(self.container)}"
            if self.container
            else "a new container on the next turn"
        )
        return (
            f"anthropic: code runs in Anthropic's sandbox ({self.tool}, up to "
            f"{self.max_continuations} continuations); skills: {', '.join(refs) or 'none'}; "
            f"files download to {self.workdir}; {container}. Boundary: commands read, "
            "write and reach only Anthropic's container; on this machine the only effect is "
            f"new files in {self.workdir}, never written over an existing one"
        )


class AnthropicBackend:
    """Runs code and skills in Anthropic's hosted sandbox; files come back to the workdir."""

    backend_type: ClassVar[str] = "anthropic"
    permission_mode: ClassVar[PermissionMode] = "auto"
    """Nothing runs on this machine, and the API runs its tools before any gate could ask."""
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting(
            "skills",
            str,
            "",
            "comma-separated skills on Anthropic's side besides the local ones: "
            "anthropic:xlsx, anthropic:pptx@VERSION, or a custom skill's id skill_…[@VERSION]",
        ),
        Setting(
            "tool",
            str,
            CODE_EXECUTION_TOOLS[-1],
            "the code-execution tool version",
            choices=CODE_EXECUTION_TOOLS,
        ),
        Setting(
            "max_skills",
            int,
            MAX_SKILLS,
            "skills one request may carry (the documented limit; raise it if the API allows more)",
            positive=True,
        ),
        Setting(
            "workdir",
            str,
            "",
            "folder the sandbox's files download to; empty: the kernel's working directory",
        ),
        Setting(
            "max_continuations",
            int,
            10,
            "times a turn the server paused (pause_turn) is continued before it is stopped",
            positive=True,
        ),
    )

    async def open_session(
        self, skills: Sequence[Skill], options: SessionOptions
    ) -> AnthropicSession:
        """Check everything that can be checked before anything is sent.

        The skill references, the number of skills one request may carry, what the
        Skills API would refuse in each local skill, and the download folder: a bad one
        fails here, so ``%backend anthropic`` leaves the current backend in place.
        """
        values = {s.name: options.settings.get(s.name, s.default) for s in self.settings}
        try:
            remote = tuple(parse_skill_refs(str(values["skills"])))
        except ValueError as error:
            raise BackendSettingError(f"skills={values['skills']}: {error}") from None
        _check_count(len(skills), len(remote), int(values["max_skills"]))
        problems = [problem for skill in skills for problem in upload_problems(skill)]
        if problems:
            raise SkillError(
                "the Skills API would refuse these skills: " + "; ".join(problems),
                hint="fix each SKILL.md or folder named; the Skills API is stricter than local loading",
            )
        return AnthropicSession(
            workdir=host_workdir(values["workdir"]),
            tool=str(values["tool"]),
            skills=tuple(skills),
            remote=remote,
            max_continuations=int(values["max_continuations"]),
            max_output_chars=options.max_output_chars,
            system_prompt=render_system_prompt((), location=str, environment=ENVIRONMENT),
        )

    async def chat(
        self,
        session: AnthropicSession,
        message: str,
        api_callback: ModelClient,
        options: TurnOptions,
    ) -> AsyncIterator[Event]:
        turn = _HostedTurn(session, api_callback, options).run(message)
        async with contextlib.aclosing(turn) as events:  # its finally runs on early exit
            async for event in events:
                yield event

    async def close(self, session: AnthropicSession) -> None:
        """Nothing runs on this machine; the container expires by itself on Anthropic's side."""
        session.container = None


class _HostedTurn:
    """One user turn on the hosted backend: its requests, continuations and downloads."""

    def __init__(self, session: AnthropicSession, client: ModelClient, options: TurnOptions):
        self.session = session
        self.client = client
        self.options = options
        self.replay = client if isinstance(client, ReplayClient) else None
        self.container_skills: list[dict[str, str]] = []
        self.calls: dict[str, tuple[ToolCall, float]] = {}
        """Server tool calls of this turn by id, with when each was seen (for its duration)."""
        self.files: list[tuple[str, str]] = []
        """(tool_use_id, file_id) of the current step's results, downloaded once it ends."""
        self.usage = Usage()
        self.texts: list[str] = []

    async def run(self, message: str) -> AsyncIterator[Event]:
        history = self.options.history
        turn_start = len(history)
        history.append({"role": "user", "content": message})
        answered: dict[str, ToolResult] = {}
        try:
            if self.replay is None:
                async for event in self._upload_skills():
                    yield event
                if self.session.container and not _expired(self.session.container):
                    container = self.session.container
                    yield Notice(f"reusing container {container['id']}{_until(container)}")
            for step in itertools.count(1):
                response: ModelResponse | None = None
                async for item in self._step():
                    if isinstance(item, ModelResponse):
                        response = item
                    else:
                        yield item
                if response is None:
                    raise IncompleteResponse("the model client ended without a final message")
                history.append(response.message)  # type: ignore[arg-type]
                self.usage = self.usage + response.usage
                self.texts.append(response.text())
                yield ModelStepFinished(step, response)
                yield UsageReported(self.usage)
                if self.replay is None and response.container:
                    self.session.container = dict(response.container)
                async for event in self._files():
                    yield event
                if response.stop_reason != "pause_turn":
                    break
                if step > self.session.max_continuations:
                    raise TurnLimitReached(
                        f"the server paused this turn {step} times (pause_turn), so it was stopped",
                        hint="raise the max_continuations setting, or send a message to let Claude go on",
                    )
            for block in response.tool_uses():  # no client tools here: answered as not run
                call = ToolCall(block["id"], block["name"], dict(block.get("input") or {}))
                answered[call.id] = ToolResult(call.id, NO_CLIENT_TOOLS, is_error=True)
                yield ToolCallStarted(call)
                yield ToolCallFinished(call, answered[call.id])
            if self.replay is not None and self.calls:
                yield Notice(
                    f"replayed: hosted tools are not re-run offline; {len(self.calls)} "
                    "server-side call(s) and their files are shown as recorded"
                )
            yield TurnEnded(response.stop_reason, "".join(self.texts), self.usage)
        finally:
            drop_unanswered_server_calls(history, turn_start)
            _repair_history(history, turn_start, answered)

    async def _upload_skills(self) -> AsyncIterator[Event]:
        """Make sure each local skill is on Anthropic's side as it is now; a notice per upload."""
        session = self.session
        self.container_skills = list(session.remote)
        for skill in session.skills:
            digest = skill.content_hash()
            known = session.uploaded.get(skill.name)
            if known is None or known[0] != digest:
                upload = await self._upload(skill)
                session.uploaded[skill.name] = (digest, upload)
                if upload.action != "unchanged":
                    yield Notice(upload.describe())
            self.container_skills.append(session.uploaded[skill.name][1].param)

    async def _upload(self, skill: Skill) -> Upload:
        client = _sdk_client(self.client)
        if client is None:
            raise BackendError(
                f"skill {skill.name} must be uploaded to Anthropic, but this session's model "
                f"client ({type(self.client).__name__}) cannot reach the Skills API",
                hint="use the Anthropic model client, or only skills already on Anthropic's side",
            )
        return await upload_skill(client, skill, self.session.uploads)

    async def _step(self) -> AsyncIterator[Event | ModelResponse]:
        """One request and its stream; an expired container is replaced once, with a notice."""
        for attempt in range(2):
            expired = self.session.container
            if expired and _expired(expired) and self.replay is None:
                self.session.container = None
                yield _replaced(expired, f"it expired at {_local_time(expired)}")
            try:
                async for item in self.client.stream(self._request()):
                    event = self._event(item)
                    if event is not None:
                        yield event
                return
            except ContainerExpired:
                expired = self.session.container
                if attempt or expired is None:
                    raise
                self.session.container = None
                yield _replaced(expired, "the API says it has expired")

    def _request(self) -> ModelRequest:
        container: dict[str, Any] = {}
        if self.replay is None:
            if self.session.container:
                container["id"] = self.session.container["id"]
            if self.container_skills:
                container["skills"] = self.container_skills
        return ModelRequest(
            self.options.model,
            self.session.system_prompt,
            list(self.options.history),
            [{"type": self.session.tool, "name": "code_execution"}],
            self.options.max_tokens,
            container or None,
        )

    def _event(self, item: StreamItem) -> Event | ModelResponse | None:
        """The event a stream item stands for (the response itself passes through)."""
        if isinstance(item, TextChunk):
            return TextDelta(item.text)
        if isinstance(item, RetryWait):  # a quiet turn must say why
            return Notice(item.describe(), "warning")
        if isinstance(item, ServerToolUse):
            call = tool_call(item)
            self.calls[call.id] = (call, time.perf_counter())
            return ServerToolCallStarted(call)
        if isinstance(item, ServerToolResult):
            return self._finished(item)
        if isinstance(item, ModelResponse):
            return item
        return None

    def _finished(self, item: ServerToolResult) -> ServerToolCallFinished:
        call, started = self.calls.get(item.tool_use_id) or (
            ToolCall(item.tool_use_id, item.block_type.removesuffix("_tool_result")),
            time.perf_counter(),
        )
        result = tool_result(item, limit=self.session.max_output_chars)
        self.files += [(item.tool_use_id, file_id) for file_id in file_ids(item)]
        duration = 0.0 if self.replay else time.perf_counter() - started
        return ServerToolCallFinished(call, dataclasses.replace(result, duration=duration))

    async def _files(self) -> AsyncIterator[Event]:
        """The step's files: downloaded (or, on replay, named as recorded), each shown."""
        pending, self.files = self.files, []
        if self.replay is not None:
            by_call: dict[str, list[str]] = {}
            for tool_use_id, file_id in pending:
                by_call.setdefault(tool_use_id, []).append(file_id)
            for tool_use_id, ids in by_call.items():
                for event in _recorded_files(self.replay, tool_use_id, ids):
                    yield event
            return
        for tool_use_id, file_id in pending:
            try:
                download = await self._download(file_id)
            except ModelError as error:  # the answer stands; the file is only missing
                yield Notice(f"{error}", "warning")
                continue
            if download.renamed:
                yield Notice(
                    f"{download.name} already exists in {self.session.workdir}, so the "
                    f"sandbox's file was saved as {download.path.name}",
                    "warning",
                )
            yield FileCreated(str(download.path), tool_use_id)

    async def _download(self, file_id: str) -> Download:
        client = _sdk_client(self.client)
        if client is None:
            raise ModelError(
                f"file {file_id} was not downloaded: this session's model client "
                f"({type(self.client).__name__}) cannot reach the Files API"
            )
        return await download_file(client, file_id, self.session.workdir)


def _recorded_files(replay: ReplayClient, tool_use_id: str, ids: Sequence[str]) -> list[Event]:
    """A replayed call's files: where the recording saved them (mapped to this machine),
    with a warning for each that is not there; or a notice naming the ids if the
    recording kept no paths."""
    paths = replay.recorded_files(tool_use_id)
    if not paths:
        return [Notice(f"file(s) {', '.join(ids)} of the recording are not downloaded on replay")]
    events: list[Event] = [FileCreated(path, tool_use_id) for path in paths]
    events += [
        Notice(
            f"{path} was downloaded when the turn was recorded and is not on this machine",
            "warning",
        )
        for path in paths
        if not Path(path).exists()
    ]
    return events


def _sdk_client(client: Any) -> SdkClient | None:
    """The client that lends its SDK for the Skills and Files APIs: this one, or the one a
    wrapper delegates to as ``client`` (the session's budget wraps the model client, and
    rightly leaves these calls alone: they cost no tokens)."""
    while not isinstance(client, SdkClient):
        client = getattr(client, "client", None)
        if client is None:
            return None
    return client


def _check_count(local: int, remote: int, limit: int) -> None:
    if local + remote > limit:
        raise BackendError(
            f"{local + remote} skills would go into each request ({local} local, {remote} from "
            f"the skills setting), but one request may carry at most {limit}",
            hint="load fewer skills, or raise the max_skills setting if the API allows more",
        )


def _expired(container: dict[str, Any]) -> bool:
    expires = _expiry(container)
    return expires is not None and expires <= datetime.now(timezone.utc)


def _expiry(container: dict[str, Any]) -> datetime | None:
    try:
        expires = datetime.fromisoformat(str(container.get("expires_at")))
    except ValueError:
        return None
    return expires if expires.tzinfo else expires.replace(tzinfo=timezone.utc)


def _local_time(container: dict[str, Any]) -> str:
    expires = _expiry(container)
    return expires.astimezone().strftime("%H:%M") if expires else "an unknown time"


def _until(container: dict[str, Any]) -> str:
    return f" (expires {_local_time(container)})" if _expiry(container) else ""


def _replaced(container: dict[str, Any], why: str) -> Notice:
    return Notice(
        f"container {container['id']} is gone ({why}); a new one is started, without the "
        "files and state of the old one",
        "warning",
    )
