"""What a live view sends, and what two kinds of frontend make of it, without a kernel;
and an answer to stream.

``Frontends`` stands in for IPython's ``display`` and ``clear_output`` in
``conjure_kernel.notebook.views`` and keeps every message in order. It then plays them
as a notebook does (JupyterLab, nbclient: outputs in order, a redraw replaces the
outputs with its display id, ``clear_output(wait=True)`` clears on the next output) and
as ``jupyter console`` does (prints a new output's ``text/plain``, ignores redraws).
The real kernel and the real console are tested in test_live_view_kernel.py and
test_console.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

Bundle = dict[str, Any]


@dataclass
class Message:
    kind: str
    """``display``, ``update`` or ``clear``."""
    bundle: Bundle
    display_id: str = ""

    @property
    def size(self) -> int:
        """Bytes of the message's content, as JSON."""
        return len(json.dumps(self.bundle, ensure_ascii=False).encode())


class Frontends:
    """Every display message of a live view, and how a notebook and a terminal show them."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def display(self, bundle: Bundle, *, raw: bool, display_id: str, update: bool = False) -> None:
        assert raw and display_id
        self.messages.append(Message("update" if update else "display", bundle, display_id))

    def clear_output(self, wait: bool = False) -> None:
        assert wait, "the live view clears on its next output, so nothing flickers"
        self.messages.append(Message("clear", {}))

    @property
    def sent_bytes(self) -> int:
        return sum(message.size for message in self.messages)

    def notebook(self) -> list[Bundle]:
        """The cell's outputs once every message was played."""
        outputs: list[tuple[str, Bundle]] = []
        clearing = False
        for message in self.messages:
            if message.kind == "clear":
                clearing = True
            elif message.kind == "update":
                outputs = [
                    (key, message.bundle if key == message.display_id else bundle)
                    for key, bundle in outputs
                ]
            else:
                if clearing:
                    outputs, clearing = [], False
                outputs.append((message.display_id, message.bundle))
        return [bundle for _, bundle in outputs]

    def shown_html(self) -> str:
        """The notebook's outputs as a browser shows them (HTML where there is some)."""
        return "".join(b.get("text/html", b.get("text/plain", "")) for b in self.notebook())

    def console(self) -> str:
        """What ``jupyter console`` prints: each new output's text, never a redraw."""
        printed = []
        for message in self.messages:
            if message.kind == "display" and "text/plain" in message.bundle:
                printed.append(message.bundle["text/plain"] + "\n")
        return "".join(printed)


def answer_of(paragraphs: int) -> str:
    """Markdown with a paragraph, a list or a code block of about 60 words each."""
    parts = []
    for n in range(paragraphs):
        words = [f"w{n}x{i}" for i in range(60)]
        if n % 5 == 3:
            parts.append("\n".join(f"- item {' '.join(words[i : i + 12])}" for i in (0, 12, 24)))
        elif n % 7 == 6:
            parts.append("```\n" + "\n\n".join(words[:20]) + "\n```")
        else:
            parts.append(" ".join(words) + ".")
    return "\n\n".join(parts)
