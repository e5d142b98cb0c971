"""Pinned magic help (as IPython's test_magic_arguments does) and the kernel's cell routing."""

from __future__ import annotations

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from conjure_kernel.notebook.backend_magics import BackendMagics
from conjure_kernel.notebook.history_magics import HistoryMagics
from conjure_kernel.notebook.kernel import is_chat_cell, route_cell
from conjure_kernel.notebook.magics import ConjureMagics
from conjure_kernel.notebook.skill_magics import SkillMagics


def flat(text: str) -> str:
    """Help text with argparse's line wrapping (which depends on the terminal) undone."""
    return " ".join(text.split())


def assert_help(doc: str | None, header: str, arguments: str) -> None:
    """``header`` (usage and description) exactly; the argument help up to line wrapping."""
    assert doc is not None
    assert doc.startswith(header + "positional arguments:\n")
    assert flat(doc) == flat(header + "positional arguments:\n" + arguments)


def test_backend_help_is_pinned():
    assert_help(
        BackendMagics.backend.__doc__,
        "::\n\n  %backend [name] [settings ...]\n\n"
        "Show or switch the backend that runs tool calls; the conversation is kept.\n\n",
        "name Backend to switch to; omit to show the current one. "
        "settings key=value settings of the backend, e.g. workdir=/tmp/run timeout=60; "
        "`%backend NAME --help` lists a backend's settings.",
    )


def test_model_help_is_pinned():
    assert_help(
        BackendMagics.magic_model.__doc__,
        "::\n\n  %model [--refresh] [MODEL|OPTION ...]\n\n"
        "Show or set the Claude model and its effort and thinking; alone, list the models.\n\n",
        "MODEL|OPTION The model to use from the next turn on, and how it thinks: "
        "effort=low|medium|high|xhigh|max|default, thinking=on|off|auto; omit all to list the models. "
        "options: --refresh Ask the API for its list of models now, rather than use the one "
        "kept for a day.",
    )


def test_skills_help_is_pinned():
    assert_help(
        SkillMagics.skills.__doc__,
        "::\n\n  %skills [--remote] [--upload PATH] [--delete ID] [--remove NAME]\n"
        "              [--check]\n"
        "              [paths ...]\n\n"
        "List the loaded skills, add skills from folders and .skill packages, remove\n"
        "them from the session, check what they need, or manage the skills on Anthropic's\n"
        "side (the anthropic backend's).\n\n",
        "paths Skill folders (searched at any depth) or .skill files to add. "
        "options: --remote List the skills on Anthropic's side (yours and Anthropic's). "
        "--upload PATH Upload a skill to Anthropic, unless unchanged since its last upload. "
        "--delete ID Delete a custom skill from Anthropic, with all its versions. "
        "--remove NAME Take a loaded skill out of this session (its files stay where they are). "
        "--check Say what the loaded skills need (programs, Python modules, npm packages), "
        "whether each backend has it, and what would add the rest.",
    )


def test_history_help_is_pinned():
    assert_help(
        HistoryMagics.history.__doc__,
        "::\n\n  %history [action] [target]\n\n"
        "Show the session's turns, restore them from a notebook, or export them.\n\n",
        "action show (default), restore, or export. "
        "target restore: the notebook to read; export: FILE.md or FILE.ipynb.",
    )


def test_replay_help_is_pinned():
    assert_help(
        HistoryMagics.replay.__doc__,
        "::\n\n  %replay [--backend NAME] [--live] [notebook]\n\n"
        "Answer from a notebook's recording instead of the API; tools still run for real.\n\n",
        "notebook Recorded notebook to answer from, or 'off'; default: this notebook. "
        "options: --backend NAME Run the tools on this backend; the notebook's own %backend "
        "cells are overridden. --live Re-run recorded MCP calls on their servers where they "
        "run here.",
    )


def test_plain_magics_keep_their_docstrings():
    assert " ".join(ConjureMagics.conjure.__doc__.split()) == (
        "Send a message to Claude: ``%conjure [-o NAME] MESSAGE`` or a ``%%conjure [-o NAME]`` "
        "cell. ``{name}`` and ``{expression}`` in it are filled from the notebook's variables "
        "(``{{`` for a brace); ``-o NAME`` keeps the answer in NAME, and ``_conjure`` always "
        "holds the last; ``%conjure fix [WORDS]`` sends the last Python error and asks for a fix."
    )
    assert HistoryMagics.reset.__doc__ == (
        "Start a fresh conversation (backend, model and skills stay)."
    )
    assert ConjureMagics.secret.__doc__ == (
        "Mark environment variables whose values must never appear in saved output (in the\n"
        "        Conjure kernel every output; after %load_ext, chat turns only)."
    )


@pytest.mark.parametrize(
    ("code", "chat"),
    [
        ("What is in this folder?", True),
        ("  \n  two lines\nof chat", True),
        ("# a heading is chat too", True),
        ("%backend local", False),
        ("  %%python\nx = 1", False),
        ("!ls", False),
        ("", False),
        ("   \n\t", False),
    ],
)
def test_is_chat_cell(code, chat):
    assert is_chat_cell(code) is chat


def test_a_plain_cell_becomes_a_conjure_cell():
    lines = ["Summarise\n", "the data.\n"]
    assert route_cell(lines) == ["%%conjure\n", "Summarise\n", "the data.\n"]


@pytest.mark.parametrize(
    "lines",
    [["%backend native\n"], ["%%timeit\n", "x = 1\n"], ["!ls -l\n"], [], ["\n"]],
    ids=["line magic", "cell magic", "shell", "empty", "blank"],
)
def test_magic_shell_and_empty_cells_stay_as_they_are(lines):
    assert route_cell(lines) == lines


@pytest.mark.parametrize(
    ("lines", "body"),
    [
        (["%%python\n", "x = 1\n", "print(x)\n"], "x = 1\nprint(x)\n"),
        (["  %%python\n", "x = 1\n"], "x = 1\n"),
        (["%%python ignored words\n", "y = 2\n"], "y = 2\n"),
        (["%%python"], ""),
        (["%%python\n"], ""),
    ],
    ids=["body", "indented marker", "marker with words", "marker alone", "marker line only"],
)
def test_a_python_cell_runs_its_body(lines, body):
    assert "".join(route_cell(lines)) == body


def test_a_magic_that_merely_starts_with_python_is_not_the_python_marker():
    lines = ["%%pythonic\n", "x = 1\n"]
    assert route_cell(lines) == lines


def test_routing_as_ipython_applies_it_to_a_whole_cell():
    manager = TransformerManager()
    manager.cleanup_transforms.insert(0, route_cell)
    assert manager.transform_cell("hello there\n") == (
        "get_ipython().run_cell_magic('conjure', '', 'hello there\\n')\n"
    )
    assert manager.transform_cell("%%python\nx = 1\n%time y = 2\n") == (
        "x = 1\nget_ipython().run_line_magic('time', 'y = 2')\n"
    )
