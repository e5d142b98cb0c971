"""Signatures on the blocks only the API may write: thinking, redacted thinking, compaction.

The real API signs a thinking block so that it can tell, when the block comes back in a
later request, that Claude wrote it, for this model, unchanged. The fake does the same
with an HMAC under its own secret:

- a ``thinking`` block's ``signature`` is bound to the model and the text as sent (the
  empty text under ``display: "omitted"``), so an edited text, a block written for
  another model or a made-up signature is refused;
- a ``redacted_thinking`` block's ``data`` is its scripted payload followed by a MAC
  bound to the model;
- a ``compaction`` block's ``signature`` records a digest of its ``content`` and a MAC
  over model and digest, so a changed summary and a forged signature are told apart,
  as the SDK's ``compaction_content_mismatch`` and ``compaction_signature_invalid``
  error codes tell them apart.

Where it departs from the API: the real signatures also bind the transcript before the
block (Opus 5.5) and the organization; these bind only the model and the block.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from .replies import ErrorReply

__all__ = ["SIGNED_TYPES", "Signatures"]

SIGNED_TYPES = frozenset({"thinking", "redacted_thinking", "compaction"})
_SECRET = b"fake-messages-api signing key"
"""The same for every server, so a block stays valid across a restart of the fake API."""


class Signatures:
    """Signs the blocks the server sends and checks the ones that come back."""

    def __init__(self, secret: bytes = _SECRET) -> None:
        self._secret = secret

    def sign(self, block: Mapping[str, Any], model: str) -> dict[str, Any]:
        """``block`` as the server sends it to a request for ``model``: signed if it is a
        thinking, redacted thinking or compaction block, else unchanged."""
        block = dict(block)
        kind = block.get("type")
        if kind == "thinking":
            block["signature"] = self._mac("thinking", model, block.get("thinking", ""))
        elif kind == "redacted_thinking" and not self._redacted_valid(block, model):
            payload = str(block.get("data", ""))
            block["data"] = f"{payload}.{self._mac('redacted_thinking', model, payload)}"
        elif kind == "compaction" and block.get("content") is not None:
            digest = _digest(block["content"])
            block["signature"] = f"{digest}.{self._mac('compaction', model, digest)}"
        return block

    def problem(self, block: Mapping[str, Any], model: str, path: str) -> ErrorReply | None:
        """The API's 400 for a block sent back at ``path`` (``messages.I.content.J``) that
        was not signed for ``model`` as it stands; ``None`` when it verifies."""
        kind = block.get("type")
        if kind == "thinking":
            expected = self._mac("thinking", model, str(block.get("thinking", "")))
            if not hmac.compare_digest(str(block.get("signature", "")), expected):
                return _invalid(f"{path}: Invalid `signature` in `thinking` block")
        elif kind == "redacted_thinking" and not self._redacted_valid(block, model):
            return _invalid(f"{path}: Invalid `data` in `redacted_thinking` block")
        elif kind == "compaction" and block.get("content") is not None:
            return self._compaction_problem(block, model, path)
        return None

    def _compaction_problem(
        self, block: Mapping[str, Any], model: str, path: str
    ) -> ErrorReply | None:
        digest, _, mac = str(block.get("signature") or "").partition(".")
        if not hmac.compare_digest(mac, self._mac("compaction", model, digest)):
            message = f"{path}: Invalid `signature` in `compaction` block"
            return _invalid(message, "compaction_signature_invalid")
        if digest != _digest(block["content"]):
            message = f"{path}: `content` of `compaction` block differs from what its `signature` recorded"
            return _invalid(message, "compaction_content_mismatch")
        return None

    def _redacted_valid(self, block: Mapping[str, Any], model: str) -> bool:
        payload, _, mac = str(block.get("data", "")).rpartition(".")
        return hmac.compare_digest(mac, self._mac("redacted_thinking", model, payload))

    def _mac(self, kind: str, model: str, text: str) -> str:
        message = "\x1f".join((kind, model, text)).encode()
        return base64.b64encode(hmac.digest(self._secret, message, "sha256")).decode()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _invalid(message: str, error_code: str | None = None) -> ErrorReply:
    return ErrorReply(400, "invalid_request_error", message, error_code=error_code)
