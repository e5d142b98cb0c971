"""``python -m conjure_kernel docker ps|gc`` against the real engine: a sandbox whose kernel
was killed is listed as orphaned and removed; a live kernel's is left alone."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import docker.errors
import pytest
from docker_support import IMAGE, engine_with_image, sandboxes

from conjure_kernel.backends.docker.engine import owner_labels


@pytest.fixture(scope="module")
def client():
    return engine_with_image()


def conjure(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conjure_kernel", "docker", *args], capture_output=True, text=True
    )


def labelled_container(client, session: str, owner_pid: int):
    labels = {**owner_labels(session, "test-kernel"), "conjure.owner-pid": str(owner_pid)}
    return client.containers.create(IMAGE, ["true"], labels=labels, name=f"conjure-{session}")


def test_ps_marks_orphans_and_gc_removes_only_them(client):
    gone = subprocess.Popen(["true"])
    gone.wait()
    orphan = labelled_container(client, "clitestorphan", gone.pid)
    live = labelled_container(client, "clitestlive", os.getpid())
    try:
        listing = conjure("ps")
        assert listing.returncode == 0, listing.stderr
        lines = {line.split()[0]: line for line in listing.stdout.splitlines()[1:] if line}
        assert "*" in lines["conjure-clitestorphan"].split()[1]
        assert "docker gc" in listing.stdout
        collected = conjure("gc")
        assert collected.returncode == 0, collected.stderr
        assert "conjure-clitestorphan" in collected.stdout
        assert not sandboxes(client, "clitestorphan")
        assert sandboxes(client, "clitestlive")
    finally:
        for container in (orphan, live):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)


def test_an_unreachable_engine_is_one_line_and_status_1():
    done = conjure("ps", "--host", "tcp://127.0.0.1:9")
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == (
        "error: the Docker engine at tcp://127.0.0.1:9 is not reachable ([Errno 111] Connection refused)"
    )
