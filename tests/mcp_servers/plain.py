"""An MCP server in plain Python, without the SDK: for sandboxes that do not have it
(the docker image). It speaks just enough of the protocol over stdio: initialize,
tools/list and tools/call for ``echo``, ``where``, ``reach`` and ``env`` (a variable of
its environment); ``garble`` prints a line
that is not JSON-RPC and never answers, ``misshapen`` answers with content that is not
a list. ``PLAIN_MORE_TOOLS`` (JSON) lists more tools, as
they are to be listed: ones the API would refuse, or that break MCP's own schema."""

from __future__ import annotations

import json
import os
import socket
import sys

TOOLS = [
    {
        "name": "echo",
        "description": "Say the text back.",
        "inputSchema": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
    },
    {
        "name": "where",
        "description": "Working folder and user id.",
        "inputSchema": {"type": "object"},
    },
    {"name": "reach", "description": "Try the network.", "inputSchema": {"type": "object"}},
    {"name": "garble", "description": "Print garbage.", "inputSchema": {"type": "object"}},
    {"name": "env", "description": "A variable's value.", "inputSchema": {"type": "object"}},
    {"name": "misshapen", "description": "A bad result.", "inputSchema": {"type": "object"}},
    *json.loads(os.environ.get("PLAIN_MORE_TOOLS", "[]")),
]


def call(name: str, arguments: dict) -> tuple[str, bool]:
    if name == "echo":
        return str(arguments.get("text", "")), False
    if name == "where":
        return f"{os.getcwd()} uid={os.getuid()}", False
    if name == "env":
        return os.environ.get(str(arguments.get("name")), "(not set)"), False
    if name == "reach":
        try:
            socket.create_connection(("1.1.1.1", 53), 2).close()
        except OSError as error:
            return f"unreachable: {error}", True
        return "reached", False
    return f"no tool {name}", True


def answer(message: dict) -> dict | None:
    method, params = message.get("method"), message.get("params") or {}
    if "id" not in message:
        return None  # a notification
    if method == "initialize":
        result = {
            "protocolVersion": params.get("protocolVersion", "2025-06-18"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "plain", "version": "1"},
        }
    elif method == "tools/list":
        result = {"tools": TOOLS}
    elif method == "tools/call" and params["name"] == "garble":
        print("this is not JSON-RPC", flush=True)
        return None
    elif method == "tools/call" and params["name"] == "misshapen":
        result = {"content": "not a list"}
    elif method == "tools/call":
        text, failed = call(params["name"], params.get("arguments") or {})
        result = {"content": [{"type": "text", "text": text}], "isError": failed}
    else:
        error = {"code": -32601, "message": f"no method {method}"}
        return {"jsonrpc": "2.0", "id": message["id"], "error": error}
    return {"jsonrpc": "2.0", "id": message["id"], "result": result}


for line in sys.stdin:
    if line.strip():
        reply = answer(json.loads(line))
        if reply is not None:
            print(json.dumps(reply), flush=True)
