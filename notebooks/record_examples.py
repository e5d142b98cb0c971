"""Re-record the shipped example notebooks against the scripted stand-in for Claude.

No API key was at hand when these notebooks were made, so the model's side is played
by ``tests/fakeapi``: a local server that speaks the Messages API, with the replies
scripted below. Every tool call in the recordings really ran. With a key, re-record by
hand instead: open a notebook, replace ``%replay ...`` with ``%replay off``, Run All, save.

    python notebooks/record_examples.py
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
SHOWN_ROOT = "/home/you/conjure-kernel/notebooks"
"""The folder the shipped recordings say they were made in: the recording machine's own
folder is replaced by it, so no machine's paths ship. Replay maps it to wherever the
notebook runs, as it maps any recorded path."""
SHOWN_HOME = "/home/you"
SHOWN_TMP = "/tmp/conjure-tmp-shown"
"""The home folder and the sandbox's private /tmp the recordings show (``%backend`` says
what the sandbox masks and where its /tmp is)."""
sys.path.insert(0, str(HERE.parent / "tests"))

from fakeapi import FakeMessagesAPI, replies  # noqa: E402

from conjure_kernel.notebook.kernelspec import NOTEBOOK_KERNELSPEC  # noqa: E402

HOW_MADE = """
**How this recording was made.** No Anthropic API key was available when it was made, so
Claude's side was played by a *scripted stand-in*: `tests/fakeapi`, the project's local
server that speaks the Messages API, answering with the replies written in
`notebooks/record_examples.py`. The tool calls are real: they ran on the {backend}
backend and their outputs are what you see. The first code cell, `%replay {name}`, makes
the kernel answer from this recording, so the notebook re-runs anywhere with no key;
the tools run again, and any tool result that comes out different is reported as drift.

**Re-record it with Claude.** Set `ANTHROPIC_API_KEY` before starting Jupyter, change the
first code cell to `%replay off`, run all cells and save the notebook.
"""


def step(body: dict) -> int:
    """How many model steps of the current turn came before this request."""
    count = 0
    for message in reversed(body["messages"]):
        if message["role"] == "assistant":
            count += 1
        elif (
            isinstance(message["content"], str)
            or message["content"][0].get("type") != "tool_result"
        ):
            return count
    return count


def last_result(body: dict) -> str:
    return body["messages"][-1]["content"][0]["content"]


def location(body: dict, name: str) -> str:
    system = "".join(block["text"] for block in body["system"])
    return re.search(rf"<name>{name}</name>.*?<location>(.*?)</location>", system, re.S).group(1)


POEM = "Cells wait in rows at night,\nkernels hum at night,\noutputs bloom in light,\nnotebooks keep it right.\n"


def quickstart(body: dict) -> replies.Reply:
    first = body["messages"][-1 - 2 * step(body)]
    turn = first["content"] if isinstance(first["content"], str) else first["content"][-1]["text"]
    if turn.startswith("Write"):
        skill = location(body, "word-stats")
        script = str(Path(skill).parent / "scripts" / "word_stats.py")
        return [
            lambda: replies.tool_use(
                "create_file",
                {"path": "poem.txt", "file_text": POEM, "description": "Write the poem"},
                text="I'll write the poem first.",
            ),
            lambda: replies.tool_use(
                "view",
                {"path": skill, "description": "Read the word-stats skill"},
                text="Now let me check the word-stats skill.",
            ),
            lambda: replies.tool_use(
                "bash_tool",
                {"command": f"python3 {script} poem.txt --top 3", "description": "Count the words"},
            ),
            lambda: replies.text(summarise(last_result(body))),
        ][step(body)]()
    return [
        lambda: replies.tool_use(
            "str_replace",
            {
                "path": "poem.txt",
                "old_str": "hum at night",
                "new_str": "hum at dawn",
                "description": "Change the second line",
            },
            text="I will change the second line only.",
        ),
        lambda: replies.tool_use("view", {"path": "poem.txt", "description": "Show the new poem"}),
        lambda: replies.text("Here is the new version:\n\n" + numbered_to_text(last_result(body))),
    ][step(body)]()


def summarise(output: str) -> str:
    figures = dict(
        line.split(": ", 1)
        for line in output.splitlines()
        if line.count(": ") == 1 and not line.startswith("top")
    )
    top = [line.split()[1:] for line in output.splitlines() if line.startswith("top:")]
    listing = "\n".join(f"- **{word}** ({count} times)" for word, count in top)
    return (
        f"The poem in `poem.txt` has {figures['lines']} lines, {figures['words']} words and "
        f"{figures['characters']} characters. Its most frequent words:\n\n{listing}"
    )


def numbered_to_text(view_output: str) -> str:
    lines = [line.split("\t", 1)[-1] for line in view_output.splitlines() if "\t" in line]
    return "```text\n" + "\n".join(lines) + "\n```"


def native(body: dict) -> replies.Reply:
    if step(body) == 0:
        return replies.tool_use(
            "library_execute", {"command": "Le Guin"}, text="Let me search the shelf."
        )
    titles = last_result(body).splitlines()
    return replies.text(
        "Two books by Ursula K. Le Guin are on the shelf:\n\n" + "\n".join(f"- {t}" for t in titles)
    )


NATIVE_SKILL = """%%python
from conjure_kernel import NativeSkill

shelf = {
    "A Wizard of Earthsea": "Ursula K. Le Guin",
    "The Dispossessed": "Ursula K. Le Guin",
    "Kindred": "Octavia E. Butler",
}

class Library(NativeSkill):
    name = "library"
    description = "Searches the books on the user's shelf (a live Python dict) by author or title."

    def execute(self, command, context):
        hits = [title for title, author in shelf.items() if command.lower() in (title + " " + author).lower()]
        return "\\n".join(sorted(hits)) or "no match"
"""


def hybrid(body: dict) -> replies.Reply:
    skill = location(body, "word-stats")
    script = str(Path(skill).parent / "scripts" / "word_stats.py")
    return [
        lambda: replies.tool_use(
            "view",
            {"path": "notes.txt", "description": "Read the notes"},
            text="I'll read your notes first.",
        ),
        lambda: replies.tool_use(
            "view", {"path": skill, "description": "Read the word-stats skill"}
        ),
        lambda: replies.tool_use(
            "bash_tool",
            {
                "command": f"python3 {script} notes.txt --top 3 > stats.txt",
                "description": "Count the words into stats.txt",
            },
        ),
        lambda: replies.tool_use("view", {"path": "stats.txt", "description": "Read the figures"}),
        lambda: replies.tool_use(
            "ledger_execute",
            {
                "command": f"notes.txt {words_of(last_result(body))}",
                "description": "Note the count",
            },
        ),
        lambda: replies.text(
            f"Your notes have {count_of(body['messages'][-3]['content'][0]['content'])} words; "
            "the figures are in `stats.txt`, and the count is in your `ledger`."
        ),
    ][step(body)]()


def count_of(view_output: str) -> str:
    """The word count in a view of word_stats.py's figures."""
    line = next(line for line in view_output.splitlines() if "words: " in line)
    return line.split("words: ", 1)[1].strip()


def words_of(view_output: str) -> str:
    return f"words={count_of(view_output)}"


LEDGER_SKILL = """%%python
from conjure_kernel import NativeSkill

ledger = {}

class Ledger(NativeSkill):
    name = "ledger"
    description = "Writes a figure into the user's ledger (a live Python dict): NAME KEY=VALUE."

    def execute(self, command, context):
        name, figure = command.split()
        key, value = figure.split("=")
        ledger.setdefault(name, {})[key] = int(value)
        return f"ledger[{name!r}] = {ledger[name]}"
"""

NOTES = (
    "%%python\n# A fresh scratch folder with a file of the user's in it.\nimport pathlib, shutil\n"
    'shutil.rmtree("scratch", ignore_errors=True)\npathlib.Path("scratch").mkdir()\n'
    '_ = pathlib.Path("scratch/notes.txt").write_text(\n'
    '    "Buy milk and bread.\\nCall the plumber about the sink.\\nRead the notes again on Friday.\\n"\n'
    ")"
)

EXAMPLES: dict[str, tuple[str, str, list[str], Callable[[dict], replies.Reply]]] = {
    "quickstart.ipynb": (
        "Conjure quickstart: a skill, a script and a file edit",
        "local",
        [
            "%%python\n# A fresh scratch folder for the tools to work in.\nimport pathlib, shutil\n"
            'shutil.rmtree("scratch", ignore_errors=True)\npathlib.Path("scratch").mkdir()',
            "%backend local workdir=scratch",
            "%skills skills",
            "Write a four-line poem about notebooks to poem.txt, then tell me how many words it has "
            "and which words it uses most.",
            "In the second line of the poem, replace 'night' with 'dawn', then show me the new version.",
            "%history",
        ],
        quickstart,
    ),
    "native.ipynb": (
        "Conjure on the native backend: Claude calls Python in the kernel",
        "native",
        [NATIVE_SKILL, "%backend native", "Which books by Le Guin are on my shelf?", "%history"],
        native,
    ),
    "hybrid.ipynb": (
        "Conjure on a hybrid backend: host files, a sandbox and the kernel in one conversation",
        "hybrid",
        [
            NOTES,
            LEDGER_SKILL,
            "%skills skills",
            "%backend hybrid view=local bash_tool=docker skill:ledger=native default=docker "
            "workdir=scratch",
            "Count the words in notes.txt with the word-stats skill, keep the figures in "
            "stats.txt, and note the word count in my ledger.",
            "%%python\nledger",
            "%history",
        ],
        hybrid,
    ),
}


def _neutral(text: str) -> str:
    """``text`` with this machine's folders (the notebooks', the home folder, the sandbox's
    private /tmp) replaced by neutral ones, so no recording machine's paths ship."""
    text = text.replace(str(HERE), SHOWN_ROOT).replace(str(Path.home()), SHOWN_HOME)
    return re.sub(r"/tmp/conjure-tmp-[^\s\"'\\]+", SHOWN_TMP, text)


def record(name: str) -> None:
    title, backend, cells, responder = EXAMPLES[name]
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = dict(NOTEBOOK_KERNELSPEC)
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    with FakeMessagesAPI(responder=responder) as api:
        os.environ.update(
            ANTHROPIC_API_KEY="sk-ant-no-real-key",
            ANTHROPIC_BASE_URL=api.url,
            CONJURE_MODEL="scripted-stand-in",
        )
        NotebookClient(notebook, timeout=120, resources={"metadata": {"path": str(HERE)}}).execute()
    for cell in notebook.cells:
        cell.outputs = [
            nbformat.from_dict(json.loads(_neutral(json.dumps(output))))
            for output in cell.get("outputs", [])
        ]
    intro = f"# {title}\n" + HOW_MADE.format(backend=backend, name=name)
    notebook.cells[:0] = [
        nbformat.v4.new_markdown_cell(intro),
        nbformat.v4.new_code_cell(f"%replay {name}"),
    ]
    nbformat.write(notebook, HERE / name)
    print(f"recorded {HERE / name}")


if __name__ == "__main__":
    for example in sys.argv[1:] or EXAMPLES:
        record(example)
