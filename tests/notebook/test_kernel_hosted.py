"""``%backend anthropic`` end to end: real kernels, the real SDK, the fake API's hosted side.

The scenario the issue is checked by: ``%skills PATH``, ``%backend anthropic``, a reply
that pauses after a server-side bash call that created a file; the continuation reuses
the container, the file lands in the kernel's folder, the trace shows the container's
command and output and the text editor's path; an expired container is replaced with
a notice; a second kernel with the same skill does not upload it again.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from fakeapi import FakeMessagesAPI, replies
from kernel_harness import RunningKernel

from conjure_kernel.conversation.turn import FileEntry, NoticeEntry


@pytest.fixture
def api():
    with FakeMessagesAPI() as server:
        yield server


@pytest.fixture
def env(api, tmp_path) -> dict[str, str]:
    """What both kernels share: the key, the API and the Jupyter data folder (upload cache)."""
    return {
        "ANTHROPIC_API_KEY": "sk-test-key-123",
        "ANTHROPIC_BASE_URL": api.url,
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter"),
    }


def make_skill(root: Path) -> Path:
    folder = root / "report-maker"
    (folder / "scripts").mkdir(parents=True)
    (folder / "SKILL.md").write_text(
        "---\nname: report-maker\ndescription: Writes quarterly reports. Use for reports.\n---\n"
        "Run `python scripts/make.py`.\n"
    )
    (folder / "scripts" / "make.py").write_text("open('report.txt', 'w').write('Q3: 12')\n")
    return root


def hosted_replies(api: FakeMessagesAPI) -> tuple[str, str]:
    """A step that ran bash (creating report.txt) and paused opening a view, then its end."""
    report = api.hosted.add_file("report.txt", b"Q3: 12\n", mime_type="text/plain")
    bash = replies.server_tool_use("bash_code_execution", {"command": "python scripts/make.py"})
    view = replies.server_tool_use(
        "text_editor_code_execution", {"command": "view", "path": "/tmp/outputs/report.txt"}
    )
    api.script(
        replies.message(
            {"type": "text", "text": "Running the skill. "},
            bash,
            replies.bash_result(bash["id"], stdout="wrote report.txt\n", file_ids=[report]),
            view,
            stop_reason="pause_turn",
            container=replies.AUTO,
        ),
        replies.message(
            replies.text_editor_result(
                view["id"],
                {
                    "type": "text_editor_code_execution_view_result",
                    "content": "Q3: 12",
                    "file_type": "text",
                },
            ),
            {"type": "text", "text": "The report says Q3: 12."},
            container=replies.AUTO,
        ),
    )
    return bash["id"], view["id"]


def test_hosted_skills_pause_files_expiry_and_no_second_upload(api, env, tmp_path):
    skills = make_skill(tmp_path / "skills")
    work = tmp_path / "work"
    work.mkdir()
    with RunningKernel("conjure", cwd=work, env=env) as kernel:
        assert kernel.run(f"%skills {skills}").status == "ok"
        switched = kernel.run("%backend anthropic")
        assert switched.status == "ok", switched.error
        assert (
            "anthropic: code runs in Anthropic's sandbox (code_execution_20260521"
            in switched.text()
        )

        bash_id, view_id = hosted_replies(api)
        result = kernel.run("Make the quarterly report")
        assert result.status == "ok", result.error
        record = result.record()
        assert record.answer == "Running the skill. The report says Q3: 12."
        first, second = [r.body for r in api.requests_to("POST", "/v1/messages")]
        container = record.steps[0].container["id"]
        assert second["container"]["id"] == container and "id" not in first["container"]
        assert second["messages"][-1]["role"] == "assistant"  # continued, no new message
        tools = {tool.call.id: tool for tool in record.timeline.tools}
        assert (
            tools[bash_id].server
            and tools[bash_id].call.input["command"] == "python scripts/make.py"
        )
        assert tools[bash_id].result.content == "wrote report.txt\nexit code: 0"
        assert tools[view_id].call.input["path"] == "/tmp/outputs/report.txt"
        assert "[text_editor_code_execution /tmp/outputs/report.txt" in result.text()
        assert "[bash_code_execution python scripts/make.py · exit 0" in result.text()
        files = [e.path for e in record.timeline.entries if isinstance(e, FileEntry)]
        assert files == [str(work / "report.txt")]
        assert (work / "report.txt").read_text() == "Q3: 12\n"
        assert len(api.requests_to("POST", "/v1/skills")) == 1

        api.hosted.expire_container(container)
        api.script(replies.message({"type": "text", "text": "Again."}, container=replies.AUTO))
        again = kernel.run("Once more")
        assert again.status == "ok", again.error
        notices = [e.text for e in again.record().timeline.entries if isinstance(e, NoticeEntry)]
        assert any(f"container {container} is gone" in text for text in notices)

    with RunningKernel("conjure", cwd=work, env=env) as second_kernel:
        assert second_kernel.run(f"%skills {skills}").status == "ok"
        assert second_kernel.run("%backend anthropic").status == "ok"
        api.script(replies.message({"type": "text", "text": "Still here."}, container=replies.AUTO))
        after = second_kernel.run("Hello again")
        assert after.status == "ok", after.error
        assert len(api.requests_to("POST", "/v1/skills")) == 1  # not uploaded again
        pinned = api.requests_to("POST", "/v1/messages")[-1].body["container"]["skills"]
        assert pinned == first["container"]["skills"]


def test_a_hosted_turn_replays_in_a_kernel_with_no_key(api, env, tmp_path):
    skills = make_skill(tmp_path / "skills")
    with RunningKernel("conjure", cwd=tmp_path, env=env) as kernel:
        kernel.run(f"%skills {skills}")
        kernel.run("%backend anthropic")
        bash_id, _ = hosted_replies(api)
        recorded = kernel.run("Make the quarterly report")
        assert recorded.status == "ok", recorded.error
    saved = nbformat.v4.new_notebook()
    saved.cells = [
        nbformat.v4.new_code_cell(
            "Make the quarterly report",
            outputs=[nbformat.v4.new_output("display_data", data=recorded.bundles()[-1])],
        )
    ]
    nbformat.write(saved, tmp_path / "session.ipynb")
    sent = len(api.requests)
    offline = {"JUPYTER_DATA_DIR": str(tmp_path / "elsewhere")}  # no key, no API, no uploads
    with RunningKernel("conjure", cwd=tmp_path, env=offline) as kernel:
        kernel.run(f"%skills {skills}")
        assert kernel.run("%backend anthropic").status == "ok"
        assert kernel.run("%replay session.ipynb").status == "ok"
        replayed = kernel.run("Make the quarterly report")
    assert replayed.status == "ok", replayed.error
    record = replayed.record()
    assert record.answer == recorded.record().answer and record.drift == []
    tools = {tool.call.id: tool for tool in record.timeline.tools}
    assert tools[bash_id].result.content == "wrote report.txt\nexit code: 0"
    notices = [e.text for e in record.timeline.entries if isinstance(e, NoticeEntry)]
    assert any("hosted tools are not re-run offline" in text for text in notices)
    assert len(api.requests) == sent  # nothing uploaded, downloaded or asked


def test_skills_on_anthropics_side_are_managed_from_the_notebook(api, env, tmp_path):
    skills = make_skill(tmp_path / "skills")
    with RunningKernel("conjure", cwd=tmp_path, env=env) as kernel:
        uploaded = kernel.run(f"%skills --upload {skills / 'report-maker'}")
        assert uploaded.status == "ok", uploaded.error
        (skill,) = api.hosted.custom_skills()
        assert uploaded.text().startswith(
            f"skill report-maker uploaded to Anthropic ({skill['id']}"
        )
        again = kernel.run(f"%skills --upload {skills / 'report-maker'}")
        assert "unchanged since its upload" in again.text()
        listing = kernel.run("%skills --remote").text()
        assert f"{skill['id']}  custom  report-maker" in listing and "anthropic:xlsx" in listing
        deleted = kernel.run(f"%skills --delete {skill['id']}")
        assert deleted.text().startswith(f"deleted skill {skill['id']} and its 1 version(s)")
        assert api.hosted.custom_skills() == []
        missing = kernel.run("%skills --delete skill_nope")
        assert missing.status == "error" and "404 not_found_error" in missing.text()
