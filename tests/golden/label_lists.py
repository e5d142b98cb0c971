"""The labels of a saved turn, as each rendering shows them: read from its structure.

A label is ``[kind, text]``: a tool call's ``title``, its output's ``more`` (the fold),
a ``thinking``, ``notice``, ``file`` or ``approval`` line, a ``problem``, the ``error``
and its ``hint``, the ``footer``. The record says which labels the turn has
(``of_record``); each rendering must show exactly those, in that order: HTML (Python's
and the JupyterLab renderer's) marks each with ``data-label``; Markdown writes each as a
paragraph of emphasis alone (a tool's title in bold), thinking quoted; plain text writes
each as a line in brackets (the hint after ``hint: ``), the footer bare on the last line.
Markdown and plain text do not fold, so they have no ``more``.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import mistune

__all__ = ["ENTRY_KINDS", "of_html", "of_markdown", "of_plain", "of_record", "texts"]

Label = list[str]

ENTRY_KINDS = {
    "tool": "title",
    "thinking": "thinking",
    "notice": "notice",
    "file": "file",
    "approval": "approval",
}


def of_record(data: dict[str, Any]) -> list[Label]:
    """The labels a saved record carries, in the order a rendering shows them."""
    found: list[Label] = []
    for entry in data["timeline"]:
        labels = entry.get("labels")
        if labels is None:
            continue
        found.append([ENTRY_KINDS[entry["type"]], labels.get("title", labels.get("line"))])
        if "more" in labels.get("output", {}):
            found.append(["more", labels["output"]["more"]])
    turn = data["labels"]
    found += [["problem", problem["line"]] for problem in turn["problems"]]
    if "error" in turn:
        found.append(["error", turn["error"]["line"]])
        if "hint" in turn["error"]:
            found.append(["hint", turn["error"]["hint"]])
    found.append(["footer", " · ".join(turn["footer"])])
    return found


def texts(labels: list[Label], *, folds: bool = False) -> list[str]:
    """The labels' texts, without the folds' unless asked."""
    return [text for kind, text in labels if folds or kind != "more"]


def of_html(page: str) -> list[Label]:
    reader = _LabelReader()
    reader.feed(page)
    reader.close()
    return reader.found


class _LabelReader(HTMLParser):
    """Each element with a ``data-label``: its kind and all the text inside it."""

    _VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[Label] = []
        self._open: list[tuple[int, int]] = []
        """(depth, index in ``found``) of the labels being read."""
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._VOID:
            return
        self._depth += 1
        kind = dict(attrs).get("data-label")
        if kind:
            self.found.append([kind, ""])
            self._open.append((self._depth, len(self.found) - 1))

    def handle_endtag(self, tag: str) -> None:
        if tag in self._VOID:
            return
        if self._open and self._open[-1][0] == self._depth:
            self._open.pop()
        self._depth -= 1

    def handle_data(self, data: str) -> None:
        for _, index in self._open:
            self.found[index][1] += data


_parse = mistune.create_markdown(renderer=None, plugins=["table", "strikethrough"])


def of_markdown(markdown: str) -> list[str]:
    """The text of each paragraph that is one emphasis (or bold) and nothing else."""
    found: list[str] = []

    def walk(tokens: list[dict[str, Any]]) -> None:
        for token in tokens:
            children = token.get("children") or []
            if token["type"] == "block_quote":
                walk(children)
            elif (
                token["type"] == "paragraph"
                and len(children) == 1
                and children[0]["type"] in ("emphasis", "strong")
            ):
                found.append(_text(children[0]))

    walk(_parse(markdown))
    return found


def _text(token: dict[str, Any]) -> str:
    if "children" in token:
        return "".join(_text(child) for child in token["children"])
    return token.get("raw", "")


def of_plain(plain: str) -> list[str]:
    """Each line in brackets, a hint without the ``hint: `` that marks it (no other
    label starts so), then the bare footer."""
    lines = plain.split("\n")
    bracketed = [
        line[1:-1].removeprefix("hint: ")
        for line in lines[:-1]
        if line.startswith("[") and line.endswith("]")
    ]
    return [*bracketed, lines[-1]]
