"""An allow rule on git trusts git, not the repository: a ``.git/config`` (or hook) that
can name a program git runs turns the allowed command into a question."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conjure_kernel.conversation.git_config import configured_programs
from conjure_kernel.conversation.permissions import Permissions, decide
from conjure_kernel.conversation.places import Places
from conjure_kernel.tools.values import ToolCall


def repository(folder: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    subprocess.run(["git", "-C", str(folder), "remote", "add", "origin", "https://x/y"], check=True)
    return folder


def add_config(folder: Path, text: str) -> None:
    with (folder / ".git" / "config").open("a") as config:
        config.write(text)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[core]\n\tfsmonitor = ./evil\n", "core.fsmonitor"),
        ("[CORE]\n\tFsMonitor = ./evil\n", "core.fsmonitor"),
        ("[core]\n\thooksPath = hooks\n", "core.hookspath"),
        ("[core]\n\tpager = ./evil\n", "core.pager"),
        ("[core]\n\tsshCommand = ./evil\n", "core.sshcommand"),
        ('[filter "x"]\n\tclean = ./evil\n', "[filter]"),
        ("[alias]\n\tst = !./evil\n", "[alias]"),
        ("[pager]\n\tstatus = ./evil\n", "[pager]"),
        ("[include]\n\tpath = other.cfg\n", "[include]"),
        ('[includeIf "gitdir:/"]\n\tpath = other.cfg\n', "[includeif]"),
        ('[diff "x"]\n\ttextconv = ./evil\n', "[diff]"),
        ("[user] name = me\n[core] fsmonitor = ./evil\n", "core.fsmonitor"),
        ('[remote "origin"]\n\tuploadpack = ./evil\n', "remote.uploadpack"),
    ],
)
def test_a_setting_that_can_name_a_program_is_found(tmp_path, text, named):
    folder = repository(tmp_path / "repo")
    assert configured_programs([str(folder)]) is None
    add_config(folder, text)
    found = configured_programs([str(folder / "sub" / "deeper")])  # git looks upward
    assert found is not None and named in found


def test_an_executable_hook_is_found_and_a_sample_is_not(tmp_path):
    folder = repository(tmp_path / "repo")
    hooks = folder / ".git" / "hooks"
    assert any(name.endswith(".sample") for name in os.listdir(hooks))
    assert configured_programs([str(folder)]) is None
    hook = hooks / "post-index-change"
    hook.write_text("#!/bin/sh\ntouch ran\n")
    hook.chmod(0o755)
    assert "post-index-change" in configured_programs([str(folder)])


def test_a_worktree_and_a_submodule_are_read_too(tmp_path):
    real = repository(tmp_path / "real")
    add_config(real, "[core]\n\tfsmonitor = ./evil\n")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / ".git").write_text(f"gitdir: {real / '.git'}\n")
    assert "core.fsmonitor" in configured_programs([str(linked)])
    outer = repository(tmp_path / "outer")
    module = outer / ".git" / "modules" / "lib"
    module.mkdir(parents=True)
    (module / "config").write_text("[core]\n\tpager = ./evil\n")
    assert "core.pager" in configured_programs([str(outer)])


def test_no_repository_is_no_finding(tmp_path):
    assert configured_programs([str(tmp_path)]) is None


def verdict(command: str, workdir: Path):
    call = ToolCall("t", "bash_tool", {"command": command})
    permissions = Permissions.parse("ask", ["bash_tool(git status*)", "bash_tool(git -C*)"])
    return decide(call, "ask", permissions, Places.of({"workdir": str(workdir)}), "local")


def test_an_allowed_git_command_is_asked_about_in_a_repository_that_names_programs(tmp_path):
    plain = repository(tmp_path / "plain")
    hostile = repository(tmp_path / "hostile")
    add_config(hostile, "[core]\n\tfsmonitor = ./evil\n")
    assert verdict("git status", plain).allowed is True
    asked = verdict("git status", hostile)
    assert asked.allowed is None and "core.fsmonitor" in asked.prompt
    assert verdict("cd ../hostile && git status", plain).allowed is None
    assert verdict(f"git -C {hostile} status", plain).allowed is None
    assert verdict("git status --git-dir=/elsewhere", plain).allowed is None


@pytest.mark.parametrize(
    "text",
    [
        "[core]\n\texcludesfile = x\\\n[color]\n\tfsmonitor = ./evil\n",  # continued value
        '[core]\n\texcludesfile = "x\\\\"\n\tfsmonitor = ./evil\n',  # an escaped backslash
        "[core]\n\texcludesfile = x ; [color]\n\tfsmonitor = ./evil\n",
        '[core]\n\texcludesfile = "x # not a comment"\n\tfsmonitor = ./evil\n',
        "[core] fsmonitor = ./evil\n",
    ],
)
def test_git_config_is_read_as_git_reads_it(tmp_path, text):
    folder = repository(tmp_path / "repo")
    add_config(folder, text)
    done = subprocess.run(
        ["git", "-C", str(folder), "config", "--get", "core.fsmonitor"],
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip() == "./evil"  # git itself reads the setting
    assert "core.fsmonitor" in configured_programs([str(folder)])


def test_a_folder_that_is_itself_a_repository_is_found(tmp_path):
    """``cd sub && git status`` where sub holds HEAD, objects and refs: git takes it."""
    bare = tmp_path / "sub"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    (bare / "config").write_text("[core]\n\tbare = false\n\tfsmonitor = ./evil\n")
    assert "core.fsmonitor" in configured_programs([str(bare)])
