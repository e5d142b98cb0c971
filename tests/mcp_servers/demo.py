"""A small MCP server for the tests, over stdio or streamable HTTP.

``python demo.py`` serves stdio; ``python demo.py http PORT`` serves streamable HTTP
at ``http://127.0.0.1:PORT/mcp``. Its tools return each kind of result a client must
handle: text, structured content, an image, an error; one hangs, one kills the server.
"""

from __future__ import annotations

import base64
import os
import sys
import time

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image

PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)

server = MCPServer("demo")


@server.tool()
def echo(text: str) -> str:
    """Say the text back."""
    return text


@server.tool()
def shout(text: str, times: int = 1) -> str:
    """Say the text back in capitals, ``times`` times."""
    return " ".join([text.upper()] * times)


@server.tool()
def forecast(city: str) -> dict[str, object]:
    """A made-up forecast, as structured content."""
    return {"city": city, "celsius": 21, "sky": "clear"}


@server.tool()
def pixel() -> Image:
    """A 1x1 PNG image."""
    return Image(data=PNG_1X1, format="png")


@server.tool()
def fail(reason: str) -> str:
    """Always fails, with the reason."""
    raise ToolError(f"it failed: {reason}")


@server.tool()
def hang(seconds: float = 3600) -> str:
    """Sleeps (long): for timeouts and interrupts."""
    time.sleep(seconds)
    return "woke up"


@server.tool()
def crash() -> str:
    """Kills the server mid-call."""
    os._exit(3)


@server.tool()
def where() -> str:
    """The server's working directory and whether it can reach the network's loopback."""
    return os.getcwd()


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
