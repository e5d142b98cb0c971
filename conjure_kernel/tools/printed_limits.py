"""How much of what a tool prints goes where: one policy for every backend and view.

A command may print gigabytes; every place it goes keeps a bounded part, chosen for what
that place is for:

- the model reads ``MODEL_CHARS`` of a result (``max_output_chars``, which a person may
  change): its start and its end, with what was left out said between them
  (``tools.output``);
- the saved record keeps a result whole up to ``RECORD_CHARS`` (past the model's cap
  only when someone raised it), else its head and tail;
- the trace is sent ``LIVE_CHARS`` of a running call's printing as it arrives, then
  nothing more (a flood such as ``yes`` never reaches the frontend; the result shows the
  ends);
- a running call's row shows the newest ``LIVE_TAIL`` characters of it, as a terminal
  shows its last screens;
- a finished call's output shows its first ``FOLD_LINES`` lines (or ``FOLD_CHARS``
  characters, for few long lines), live and saved, the rest behind "show all".
"""

from __future__ import annotations

__all__ = [
    "FOLD_CHARS",
    "FOLD_LINES",
    "LIVE_CHARS",
    "LIVE_TAIL",
    "MODEL_CHARS",
    "RECORD_CHARS",
]

MODEL_CHARS = 30_000
RECORD_CHARS = 100_000
LIVE_CHARS = 64_000
LIVE_TAIL = 4_000
FOLD_LINES = 40
FOLD_CHARS = 4_000
