"""The shipped example notebooks replay from a fresh copy, with no key, and catch drift."""

from __future__ import annotations

import os
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
    replay(copy / "quickstart.ipynb", "--strict")
    assert "kernels hum at dawn" in (copy / "scratch" / "poem.txt").read_text()


def test_a_changed_skill_script_is_reported_as_drift(copy):
    script = copy / "skills" / "word-stats" / "scripts" / "word_stats.py"
    script.write_text(script.read_text().replace('f"words: ', 'f"word count: '))
    lenient = replay(copy / "quickstart.ipynb")
    strict = replay(copy / "quickstart.ipynb", "--strict")
    assert lenient.returncode == 0
    assert strict.returncode == 1
    assert "skills changed since the recording: word-stats" in strict.stdout
    assert "-words: 18" in strict.stdout and "+word count: 18" in strict.stdout


def test_papermill_runs_the_quickstart_from_the_folder_above(copy):
    """papermill leaves the kernel where papermill runs; the notebook's paths still work."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    papermill = Path(sys.executable).with_name("papermill")
    command = [str(papermill), "examples/quickstart.ipynb", "out.ipynb", "--log-level", "ERROR"]
    done = subprocess.run(
        command, cwd=copy.parent, capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kernels hum at dawn" in (copy / "scratch" / "poem.txt").read_text()
    assert not (copy.parent / "scratch").exists()
