"""``python -m conjure_kernel`` as a person types it: usage for mistakes, one line per problem."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "anthropic-skills"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conjure_kernel", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("args", [["docker", "prune"], ["skils"], []])
def test_an_unknown_command_prints_the_usage_and_exits_2(args):
    done = run(*args)
    assert done.returncode == 2
    assert done.stderr.startswith("usage: python -m conjure_kernel")
    assert "Traceback" not in done.stderr


def test_validate_a_missing_path_is_one_line(tmp_path):
    done = run("skills", "validate", str(tmp_path / "nope"))
    assert done.returncode == 1
    assert done.stderr == f"{tmp_path / 'nope'}: no such file or folder\n"


def make_skill(folder: Path, name: str) -> None:
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(f"---\nname: {name}\ndescription: Does {name}.\n---\nBody\n")


def test_validate_a_folder_of_skills_gives_one_verdict_per_skill(tmp_path):
    make_skill(tmp_path / "good", "good")
    make_skill(tmp_path / "nested" / "bad", "Bad_Name")
    done = run("skills", "validate", str(tmp_path))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    bad = f"{tmp_path / 'nested' / 'bad' / 'SKILL.md'}: name: "
    assert lines[0] == f"{tmp_path / 'good' / 'SKILL.md'}: valid"
    assert lines[1:] and all(line.startswith(bad) for line in lines[1:])


def test_validate_a_folder_with_no_skills_says_so(tmp_path):
    done = run("skills", "validate", str(tmp_path))
    assert done.returncode == 1
    assert "no SKILL.md or .skill file" in done.stderr


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not beside the checkout")
def test_validate_the_corpus_names_exactly_its_two_violations():
    done = run("skills", "validate", str(CORPUS))
    problems = [line for line in done.stdout.splitlines() if not line.endswith(": valid")]
    assert [line.split(CORPUS.name + "/")[1] for line in problems] == [
        "claude-api/SKILL.md: description: must be at most 1024 characters (found 1068); "
        "loading cuts it to 1024",
        "template/SKILL.md: name: must match its folder name 'template' (found 'template-skill')",
    ]
    assert done.returncode == 1


@pytest.mark.parametrize("command", [["kernel", "-f"], ["-f"]])
def test_the_kernel_starts_with_the_kernel_command_and_the_older_spec_form(tmp_path, command):
    """Kernelspecs installed before the ``kernel`` command existed keep working."""
    spec = {
        "argv": [sys.executable, "-m", "conjure_kernel", *command, "{connection_file}"],
        "display_name": "c",
        "language": "conjure",
    }
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "kernel.json").write_text(json.dumps(spec))
    manager = KernelManager(
        kernel_name="c", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path)])
    )
    manager.start_kernel(cwd=str(tmp_path))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        reply = client.kernel_info(reply=True, timeout=30)
        assert reply["content"]["implementation"] == "conjure"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_replay_of_a_corrupt_notebook_is_one_line(tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    done = run("replay", str(broken))
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"error: {broken}: not a readable notebook (NotJSONError: ")
    assert lines[1].startswith("hint: ") and len(lines) == 2
