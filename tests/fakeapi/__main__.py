"""Run the fake Messages API in the foreground, for trying the kernel without a key.

::

    python -m tests.fakeapi --port 8765 --script replies.jsonl   # one reply per line
    python -m tests.fakeapi --echo                               # answers "echo: <your message>"

Script lines: ``{"text": "..."}``, ``{"tool_use": {"name": ..., "input": {...}}}``,
``{"tool_uses": [{"name": ..., "input": {...}}, ...]}``,
``{"content": [block, ...], "stop_reason": "pause_turn", "container": {...}}`` (any blocks:
thinking, server_tool_use, server tool results…; ``"container": "auto"`` runs in the
request's container or a new one),
``{"error": {"status": 529, "type": "overloaded_error", "message": "..."}}`` (optionally with
``"retry_after"`` seconds or ``"retry_after_ms"``),
``{"stream_error": {"type": "overloaded_error"}}``, ``{"truncated": {"text": "..."}}``;
any line may add ``"delay": seconds``. The Skills and Files APIs are served too (a
skill upload is kept, and so are its versions).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from .replies import Reply, echo, reply_from_json
from .server import FakeMessagesAPI

__all__ = ["load_script", "main"]


def load_script(path: Path) -> list[Reply]:
    """The replies of a JSONL script; blank lines and ``#`` comments are skipped."""
    replies = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            try:
                replies.append(reply_from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError) as err:
                raise SystemExit(f"{path}:{number}: {err}") from err
    return replies


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakeapi", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--script", type=Path, help="JSONL file, one reply per line")
    parser.add_argument(
        "--echo",
        action="store_true",
        help="echo the last user message (the default without --script; after it with one)",
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each response")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_arguments(argv)
    responder = echo if args.echo or args.script is None else None
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    api = FakeMessagesAPI(
        latency=args.latency, responder=responder, host=args.host, port=args.port, log=log
    )
    if args.script is not None:
        api.script(*load_script(args.script))
    with api:
        print(f"fake Messages API at {api.url}", flush=True)
        print(f"  export ANTHROPIC_BASE_URL={api.url} ANTHROPIC_API_KEY=test-key", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
