"""Bad skills given to a real conjure kernel: each is one readable line, the good skills
still load, and the next cells (a chat turn, ``%reset``, ``%backend``) work."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import pytest
from docker_support import engine_with_image
from fakeapi import replies
from kernel_harness import CellResult, RunningKernel


def make_skill(root: Path, name: str, description: str = "") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    about = description or f"Does {name}. Use when asked to {name}."
    (folder / "SKILL.md").write_text(f"---\nname: {name}\ndescription: {about}\n---\nBody\n")
    return folder


def system_of(body: dict) -> str:
    return "".join(block["text"] for block in body["system"])


def system_text(api, index: int = -1) -> str:
    return system_of(api.requests[index].body)


def stderr_lines(result: CellResult) -> list[str]:
    text = "".join(
        m["content"]["text"]
        for m in result.messages
        if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"
    )
    return text.splitlines()


def assert_one_line_error(result: CellResult, ename: str) -> str:
    assert result.status == "error"
    content = result.reply["content"]
    assert content["ename"] == ename
    assert len(content["traceback"]) <= 2, content["traceback"]
    assert "\n" not in content["evalue"]
    return content["evalue"]


def assert_the_session_goes_on(kernel: RunningKernel, api) -> None:
    """A chat turn, ``%reset``, ``%backend local`` and another turn all work."""
    api.script(replies.text("Still here."))
    assert kernel.run("Are you there?").status == "ok"
    assert kernel.run("%reset").status == "ok"
    switched = kernel.run("%backend local")
    assert switched.status == "ok", switched.error
    api.script(replies.text("Yes."))
    again = kernel.run("And now?")
    assert again.status == "ok", again.error


def test_a_skills_folder_with_link_loops_loads_the_rest_with_a_line_per_loop(api, kernel, tmp_path):
    root = tmp_path / "skills"
    make_skill(root, "greeter")
    (root / "self").symlink_to("self")
    (root / "ping").symlink_to("pong")
    (root / "pong").symlink_to("ping")
    (root / "nested").mkdir()
    (root / "nested" / "up").symlink_to("..")
    result = kernel.run(f"%skills {root}")
    assert result.status == "ok", result.error
    assert stderr_lines(result) == [
        f"warning: {root}/nested/up: is a symbolic link that leads back to {root}, "
        "which is being searched; not followed",
        f"warning: {root}/ping: is a symbolic link loop (ping -> pong -> ping); skipped",
        f"warning: {root}/pong: is a symbolic link loop (pong -> ping -> pong); skipped",
        f"warning: {root}/self: is a symbolic link loop (self -> self); skipped",
    ]
    assert "greeter: Does greeter." in result.text()
    assert_the_session_goes_on(kernel, api)
    assert "<name>greeter</name>" in system_text(api)


def lying_archive(path: Path) -> Path:
    """A .skill whose zip directory understates a file's size, as in the issue: zipfile
    writes the directory at close, from the entry's info, so the info is made to lie."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("pdf/SKILL.md", "---\nname: pdf\ndescription: Reads PDFs.\n---\n")
        archive.writestr("pdf/fill.py", "print('filling the form')\n" * 50)
        archive.getinfo("pdf/fill.py").file_size = 100
    return path


def test_a_lying_skill_archive_is_refused_at_load_in_one_line(api, kernel, tmp_path):
    """It used to load, and then every turn, %reset and %backend failed on a CRC error
    until the kernel restarted."""
    root = tmp_path / "skills"
    make_skill(root, "greeter")
    archive = lying_archive(root / "pdf.skill")
    error = assert_one_line_error(kernel.run(f"%skills {root}"), "SkillError")
    assert error == (
        f"skipped: {archive}: refusing archive entry 'pdf/fill.py': decompresses to more "
        "than the 100 bytes the archive's directory declares"
    )
    listing = kernel.run("%skills").text()
    assert "greeter: " in listing and "pdf: " not in listing
    assert_the_session_goes_on(kernel, api)
    assert "<name>greeter</name>" in system_text(api)
    assert "<name>pdf</name>" not in system_text(api)


def test_skills_remove_takes_a_skill_out_and_the_session_goes_on(api, kernel, tmp_path):
    root = tmp_path / "skills"
    make_skill(root, "greeter")
    make_skill(root, "counter")
    assert kernel.run(f"%skills {root}").status == "ok"
    api.script(replies.text("Hello."))
    assert kernel.run("Hello").status == "ok"
    assert "<name>greeter</name>" in system_text(api)
    removed = kernel.run("%skills --remove greeter")
    assert removed.status == "ok", removed.error
    assert removed.text().splitlines()[0] == "removed greeter"
    assert "greeter: " not in removed.text() and "counter: " in removed.text()
    assert_the_session_goes_on(kernel, api)
    assert "<name>greeter</name>" not in system_text(api)
    assert "<name>counter</name>" in system_text(api)
    unknown = assert_one_line_error(kernel.run("%skills --remove greeter"), "UsageError")
    assert unknown == "no skill named 'greeter' is loaded (loaded: counter)"
    assert kernel.run("%skills --remove counter").status == "ok"
    none_left = assert_one_line_error(kernel.run("%skills --remove counter"), "UsageError")
    assert none_left == "no skill named 'counter' is loaded (no skills are loaded)"
    api.script(replies.text("No skills now."))
    assert kernel.run("Any skills?").status == "ok"
    assert "<available_skills>" not in system_text(api)


def test_a_huge_description_is_cut_at_load_and_requests_stay_small(api, kernel, tmp_path):
    """5 MB of description used to go into every request: 1.25M tokens a turn."""
    description = "Writes at length. " + "w" * (5 * 2**20)
    folder = make_skill(tmp_path / "skills", "wordy", description)
    result = kernel.run(f"%skills {folder.parent}")
    assert result.status == "ok", result.error
    assert stderr_lines(result) == [
        f"warning: {folder}/SKILL.md: description: must be at most 1024 characters "
        f"(found {len(description)}); loading cuts it to 1024"
    ]
    api.script(replies.text("Short."))
    assert kernel.run("Hi").status == "ok"
    system = system_text(api)
    assert f"<description>{description[:1023]}…</description>" in system
    assert len(system) < 3000


def test_a_loop_in_the_skills_path_at_start_is_one_line_and_the_rest_load(api, tmp_path):
    (tmp_path / "looped").symlink_to("looped")
    make_skill(tmp_path / "skills", "greeter")
    env = {
        "ANTHROPIC_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": api.url,
        "CONJURE_SKILLS_PATH": f"{tmp_path / 'looped'}:{tmp_path / 'skills'}",
    }
    with RunningKernel("conjure", cwd=tmp_path, env=env) as kernel:
        first = kernel.run("%permissions auto")  # the first cell that opens the session
        assert first.status == "ok", first.error
        assert stderr_lines(first) == [
            f"skill error: {tmp_path / 'looped'}: is a symbolic link loop (looped -> looped)"
        ]
        listing = kernel.run("%skills")
        assert listing.status == "ok", listing.error
        assert "greeter: " in listing.text()
        api.script(replies.text("Hi."))
        assert kernel.run("Hello").status == "ok"
    assert "<name>greeter</name>" in system_text(api)


@pytest.mark.parametrize("backend", ["local", "docker"])
def test_a_turn_works_in_a_skill_whose_folder_holds_link_loops(api, kernel, tmp_path, backend):
    """The sandbox shows the skill's folder as it is (bind mounts do not follow links);
    the loops inside never hang or fail a turn."""
    if backend == "docker":
        engine_with_image()
    folder = make_skill(tmp_path / "skills", "loopy")
    (folder / "self").symlink_to("self")
    (folder / "up").symlink_to("..")
    (folder / "scripts").mkdir()
    (folder / "scripts" / "back").symlink_to("../..")
    assert kernel.run(f"%skills {folder.parent}").status == "ok"
    switched = kernel.run(f"%backend {backend}")
    assert switched.status == "ok", switched.error

    def respond(body):
        location = re.search(r"<location>(.*?)/SKILL.md</location>", system_of(body)).group(1)
        step = sum(1 for message in body["messages"] if message["role"] == "assistant")
        if step == 0:
            return replies.tool_use("view", {"path": location})
        if step == 1:
            return replies.tool_use(
                "bash_tool", {"command": f"ls -R {location} | head; echo listed"}
            )
        return replies.text("Seen.")

    api.responder = respond
    result = kernel.run("Look at the loopy skill")
    assert result.status == "ok", result.error
    calls = result.record().tool_calls
    assert [call.name for call, _ in calls] == ["view", "bash_tool"]
    assert not any(outcome.is_error for _, outcome in calls), calls
    assert "SKILL.md" in calls[0][1].content
    assert "listed" in calls[1][1].content


def test_a_skill_whose_folder_is_deleted_fails_turns_in_one_line_until_removed(
    api, kernel, tmp_path
):
    folder = make_skill(tmp_path / "skills", "greeter")
    make_skill(tmp_path / "skills", "counter")
    assert kernel.run(f"%skills {folder.parent}").status == "ok"
    shutil.rmtree(folder)
    api.script(replies.text("unused"))
    error = assert_one_line_error(kernel.run("Hello"), "SkillError")
    assert (
        error == f"skill greeter: its files at {folder} cannot be read: No such file or directory"
    )
    assert kernel.run("%skills --remove greeter").status == "ok"
    api.script(replies.text("Hello."))
    result = kernel.run("Hello again")
    assert result.status == "ok", result.error
    assert "<name>counter</name>" in system_text(api)


def test_skills_check_says_what_the_loaded_skills_need_and_what_is_missing(kernel, tmp_path):
    folder = make_skill(tmp_path / "skills", "charts")
    (folder / "scripts").mkdir()
    (folder / "scripts" / "plot.py").write_text("import json\nimport conjure_missing_module\n")
    assert kernel.run(f"%skills {folder}").status == "ok"
    checked = kernel.run("%skills --check")
    assert checked.status == "ok", checked.error
    needs = [line.split()[0] for line in checked.text().splitlines() if "scripts/plot.py" in line]
    assert needs == ["conjure_missing_module"]  # json is the standard library's
    assert "pip install conjure_missing_module" in checked.text()
