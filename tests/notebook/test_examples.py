"""The shipped example notebooks replay from a fresh copy, with no key, and catch drift."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.fixture
def copy(tmp_path) -> Path:
    """The notebooks folder copied elsewhere, so recorded paths must be mapped to new ones."""
    target = tmp_path / "examples"
    shutil.copytree(
        NOTEBOOKS, target, ignore=shutil.ignore_patterns("scratch", ".ipynb_checkpoints")
    )
    return target


def replay(notebook: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    command = [sys.executable, "-m", "conjure_kernel", "replay", str(notebook), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("name", ["quickstart.ipynb", "native.ipynb"])
def test_example_replays_elsewhere_with_no_key_and_no_drift(copy, name):
    result = replay(copy / name, "--strict")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "errors: 0 cell(s)" in result.stdout
    assert "drifted" not in result.stdout


def test_quickstart_tools_really_ran_in_the_copy(copy):
    result = replay(copy / "quickstart.ipynb", "--strict")
    assert "kernels hum at dawn" in (copy / "scratch" / "poem.txt").read_text()
    conversation = result.stdout.split("\nreplayed quickstart.ipynb:")[0]
    assert conversation.startswith("> Write a four-line poem about notebooks to poem.txt")
    assert "[bash_tool Count the words · exit 0 · " in conversation
    assert "kernels hum at dawn," in conversation


def test_the_shipped_examples_carry_no_machine_paths():
    """Recordings name one neutral folder, which replay maps; no recording machine's paths."""
    for notebook in NOTEBOOKS.glob("*.ipynb"):
        text = notebook.read_text()
        machine = re.findall(r"/(?:work|tmp|root|home|Users|opt|srv|var)/[^\s\"'\\]*", text)
        neutral = ("/home/you/", "/tmp/conjure-tmp-shown")  # record_examples.py's own
        assert [p for p in machine if not p.startswith(neutral)] == []
    assert (
        "/home/you/conjure-kernel/notebooks/skills/word-stats"
        in (NOTEBOOKS / "quickstart.ipynb").read_text()
    )


@pytest.fixture
def engine():
    """The hybrid example runs commands in the docker sandbox."""
    from docker_support import engine_with_image

    return engine_with_image()


def test_hybrid_example_replays_each_call_on_its_route(copy, engine):
    result = replay(copy / "hybrid.ipynb", "--strict")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "drift: 0 of 1 turn(s); errors: 0 cell(s)" in result.stdout
    conversation = result.stdout.split("\nreplayed hybrid.ipynb:")[0]
    for line in [
        "[view Read the notes · ok · <1 ms · on local]",
        "[view Read the word-stats skill · ok · <1 ms · on docker]",
        "[view Read the figures · ok · <1 ms · on local]",
    ]:
        assert line in conversation
    assert "[bash_tool Count the words into stats.txt · exit 0 · " in conversation
    assert "· on docker]" in conversation and "· on native]" in conversation
    # what the sandbox wrote is on the host, where the local view read it
    assert "words: 16" in (copy / "scratch" / "stats.txt").read_text()


def test_hybrid_example_collapses_onto_one_backend(copy, engine):
    result = replay(copy / "hybrid.ipynb", "--backend", "docker")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "replaying on docker as asked: the notebook's `%backend hybrid` cells are overridden, "
        "so every call its hybrid routes sent elsewhere runs on docker"
    ) in result.stdout
    assert "on docker (recorded on hybrid)" in result.stdout
    # the folder the notebook meant is kept; the native skill's tool has no place on docker
    assert "words: 16" in (copy / "scratch" / "stats.txt").read_text()
    assert "drift in ledger_execute" in result.stdout
    assert "drift in view" not in result.stdout and "drift in bash_tool" not in result.stdout
