"""Keep secrets out of saved notebooks: the API key and any variable the user marks secret.

Chat turns redact their own record and views. In the conjure kernel, ``RedactingSession``
also redacts every other output message (Python, ``!`` commands, displays, errors) at the
one place all of them leave the kernel: ``Session.send``. After ``%load_ext`` in another
kernel only chat turns are redacted: there ipykernel offers no such place (its output
hooks are per thread, streams are flushed from the IO thread, and errors have none).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jupyter_client.session import Session

from ..clients.base import CREDENTIAL_ENV_VARS
from ..conversation.turn import Redact, redact_value

__all__ = ["ALWAYS_SECRET", "RedactingSession", "Redactor", "redact_output"]

ALWAYS_SECRET = CREDENTIAL_ENV_VARS

_MIN_LENGTH = 4
"""Values shorter than this are not redacted: replacing 'a' everywhere would wreck output."""


class Redactor:
    """Replaces the values of secret environment variables with ``[secret NAME]``."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names: set[str] = set(ALWAYS_SECRET) | set(names)

    def add(self, *names: str) -> None:
        self.names.update(names)

    def values(self) -> dict[str, str]:
        """Each secret value set now and long enough to redact, with its variable's name."""
        values = {os.environ.get(name, ""): name for name in sorted(self.names)}
        return {value: name for value, name in values.items() if len(value) >= _MIN_LENGTH}

    def __call__(self, text: str) -> str:
        """``text`` with every secret value replaced, longest first so no part of one survives."""
        values = self.values()
        for value in sorted(values, key=len, reverse=True):
            text = text.replace(value, f"[secret {values[value]}]")
        return text

    def unfinished(self, text: str) -> int:
        """How many characters at the end of ``text`` could begin a secret value that the
        next piece of the same output completes."""
        longest = 0
        for value in self.values():
            for size in range(min(len(value) - 1, len(text)), longest, -1):
                if text.endswith(value[:size]):
                    longest = size
                    break
        return longest


_REDACTED_FIELDS = {
    "display_data": ("data",),
    "update_display_data": ("data",),
    "execute_result": ("data",),
    "error": ("evalue", "traceback"),
    "execute_reply": ("evalue", "traceback", "payload"),
}
"""The fields of each message type that carry output (a reply's pager payload is shown,
and saved, as a display); streams are redacted on their own, as one secret may straddle
two of them."""

_RELEASING = frozenset({"status", "clear_output", *_REDACTED_FIELDS})
"""Message types that end a run of stream output: held-back text goes out before them."""


def redact_output(message: dict[str, Any], redact: Redact) -> dict[str, Any]:
    """A copy of a kernel message with its output redacted; protocol fields stay."""
    fields = _REDACTED_FIELDS.get(message["header"]["msg_type"], ())
    content = dict(message["content"])
    for field in set(fields) & content.keys():
        if field == "data":
            content[field] = _redact_bundle(content[field], redact)
        elif field == "payload":
            content[field] = [_redact_payload(item, redact) for item in content[field]]
        else:
            content[field] = redact_value(content[field], redact)
    return {**message, "content": content} if fields else message


def _redact_bundle(data: dict[str, Any], redact: Redact) -> dict[str, Any]:
    return {
        mime: value if _is_binary(mime) else redact_value(value, redact)
        for mime, value in data.items()
    }


def _redact_payload(item: dict[str, Any], redact: Redact) -> dict[str, Any]:
    """A pager's page (``name?``) carries a bundle; ``set_next_input`` carries code."""
    if isinstance(item.get("data"), dict):
        return {**item, "data": _redact_bundle(item["data"], redact)}
    return item


def _is_binary(mime: str) -> bool:
    """Base64 data (PNG, PDF…): a secret's letters in it are chance, and changing them
    would break the picture."""
    kind = mime.partition("/")[0]
    return mime == "application/pdf" or (
        kind in ("image", "audio", "video") and not mime.endswith("+xml")
    )


@dataclass
class _HeldText:
    """The end of a stream message that may be the first part of a secret."""

    text: str
    parent: dict[str, Any]
    stream: Any
    ident: Any


class RedactingSession(Session):
    """The kernel's Session: every message leaves through ``send``, so output from print,
    a subprocess, a display or an error is redacted here once, whatever produced it.

    A stream's text is sent in pieces (flushed on a timer or on demand), and a secret
    can straddle two; a frontend joins them again, so the end of a piece that may begin
    a secret is held back and put in front of the next piece of that stream, or sent as
    it is before any other output or status message.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.redact: Redactor = Redactor()
        """The kernel hands over its magics' redactor, so ``%secret`` names count here."""
        self._start_afresh()
        os.register_at_fork(after_in_child=self._start_afresh)

    def _start_afresh(self) -> None:
        """Also in a forked child (multiprocessing): its copy of the lock may be held by a
        thread it does not have, and what the parent holds back is the parent's to send."""
        self._held: dict[tuple[str, str], _HeldText] = {}
        self._lock = threading.Lock()
        """Streams are sent from the IO thread, everything else from the shell's."""

    def send(
        self,
        stream: Any,
        msg_or_type: dict[str, Any] | str,
        content: dict[str, Any] | None = None,
        parent: dict[str, Any] | None = None,
        ident: bytes | list[bytes] | None = None,
        buffers: list[Any] | None = None,
        track: bool = False,
        header: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        message = (
            self.msg(msg_or_type, content, parent, header, metadata)
            if isinstance(msg_or_type, str)
            else msg_or_type
        )
        kind = message["header"]["msg_type"]
        with self._lock:
            if kind == "stream":
                message = self._with_secrets_completed(message, stream, ident)
                if message is None:
                    return None
            elif kind in _RELEASING:
                self._release_held()
            message = redact_output(message, self.redact)
            return super().send(stream, message, ident=ident, buffers=buffers, track=track)

    def _with_secrets_completed(
        self, message: dict[str, Any], stream: Any, ident: Any
    ) -> dict[str, Any] | None:
        """The stream message redacted, with the text held from its stream's last piece
        in front and a tail that may begin a secret held back (None: all of it held)."""
        content = message["content"]
        key = (message["parent_header"].get("msg_id", ""), content["name"])
        held = self._held.pop(key, None)
        text = self.redact((held.text if held else "") + content["text"])
        cut = len(text) - self.redact.unfinished(text)
        if cut < len(text):
            self._held[key] = _HeldText(text[cut:], message["parent_header"], stream, ident)
        return {**message, "content": {**content, "text": text[:cut]}} if cut else None

    def _release_held(self) -> None:
        """Send what was held as it is: no more of its stream came to complete a secret."""
        for (_, name), held in self._held.items():
            message = self.msg("stream", {"name": name, "text": held.text}, parent=held.parent)
            super().send(held.stream, message, ident=held.ident)
        self._held.clear()
