"""A long-running program (a stdio MCP server) started inside the session's container.

Split from workspace.py: commands run through the workspace's shell and end, while an
MCP server keeps its stdin and stdout open for the session. ``docker exec -i`` gives it
both, as the sandbox's user, in ``/workspace``, under the container's limits and
network; the container is made first if no command has run yet.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

from ...errors import McpServerError
from ...mcp.connection import StdioPlace
from .sandbox_spec import HOME, WORKSPACE
from .workspace import DockerWorkspace

__all__ = ["container_place"]


def container_place(workspace: DockerWorkspace) -> StdioPlace:
    """Where a stdio MCP server starts on the docker backend: in the sandbox container."""

    def wrap(argv: list[str], env: Mapping[str, str]) -> list[str]:
        docker = shutil.which("docker")
        if docker is None:
            raise McpServerError(
                "the docker command is not installed here: a stdio MCP server starts in the "
                "sandbox container through docker exec"
            )
        if not workspace.container:
            raise McpServerError("the sandbox container is not running")
        uid, gid = workspace.spec.user
        engine = workspace.spec.host or os.environ.get("DOCKER_HOST", "")
        host = ["--host", engine] if engine else []  # the server's process gets no DOCKER_HOST
        fixed = {"HOME": HOME, **workspace.spec.environment}
        settings = [f"--env={name}={value}" for name, value in fixed.items() if name not in env]
        # The server's own values (tokens) reach docker exec through its environment, as
        # the process's, and go on from there: a command line is in the host's process list.
        settings += [f"--env={name}" for name in env]
        options = ["--interactive", f"--user={uid}:{gid}", f"--workdir={WORKSPACE}", *settings]
        return [docker, *host, "exec", *options, workspace.container, *argv]

    return StdioPlace(wrap, None, "in the docker sandbox")
