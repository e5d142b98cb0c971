"""``%backend docker`` in a real conjure kernel, with a real engine and the real SDK against
the local Messages API: what a person sees from a notebook."""

from __future__ import annotations

import contextlib
import os
import re
import signal
from pathlib import Path

import docker.errors
import pytest
from docker_support import container_processes, engine_with_image, wait_until
from fakeapi import FakeMessagesAPI, replies
from kernel_harness import RunningKernel, assert_every_tool_use_answered, tool_results_of


@pytest.fixture(scope="module")
def client():
    return engine_with_image()


@pytest.fixture
def api():
    with FakeMessagesAPI() as server:
        yield server


@pytest.fixture
def kernel(api, tmp_path, client):
    env = {"ANTHROPIC_API_KEY": "sk-test-key-123", "ANTHROPIC_BASE_URL": api.url}
    with RunningKernel("conjure", cwd=tmp_path, env=env) as running:
        skill = tmp_path / "skills" / "whoami"
        (skill / "scripts").mkdir(parents=True)
        (skill / "SKILL.md").write_text(
            "---\nname: whoami\ndescription: Says where it runs.\n---\nRun scripts/where.py\n"
        )
        (skill / "scripts" / "where.py").write_text(
            "import os, socket\nprint(socket.gethostname(), os.getuid())\n"
        )
        added = running.run("%skills skills")
        assert added.status == "ok", added.text()
        switched = running.run("%backend docker")
        assert switched.status == "ok", switched.text()
        running.pid = running.manager.provisioner.process.pid  # type: ignore[attr-defined]
        yield running
    for container in sandboxes_of(client, running):
        with contextlib.suppress(docker.errors.APIError):  # it may be removing itself
            container.remove(force=True)


def sandboxes_of(client, kernel: RunningKernel) -> list:
    owner = f"conjure.owner-pid={kernel.pid}"
    return client.containers.list(all=True, filters={"label": owner}, ignore_removed=True)


def running_sandboxes(client, kernel: RunningKernel) -> list:
    return [c for c in sandboxes_of(client, kernel) if c.status == "running"]


def results(api, index: int) -> list[str]:
    return [r["content"] for r in tool_results_of(api.requests[index].body["messages"][-1])]


def test_skill_scripts_run_in_the_sandbox_and_files_land_in_the_host_workspace(
    api, kernel, client, tmp_path
):
    api.script(
        replies.tool_use("bash_tool", {"command": "python3 /mnt/skills/whoami/scripts/where.py"}),
        replies.tool_use(
            "bash_tool", {"command": "cd /tmp && export STEP=two; echo hi > /workspace/out.txt"}
        ),
        replies.tool_use("bash_tool", {"command": "pwd; echo $STEP"}),
        replies.tool_use(
            "bash_tool",
            {
                "command": "python3 -c 'import socket; socket.create_connection((\"1.1.1.1\", 80), 3)'"
            },
        ),
        replies.text("All done."),
    )
    result = kernel.run("Where do you run?")
    assert result.status == "ok", result.error
    (container,) = sandboxes_of(client, kernel)
    hostname, uid = results(api, 1)[0].split("\n")[0].split()
    assert container.id.startswith(hostname) and uid != "0"
    assert results(api, 3)[0].startswith("/tmp\ntwo\n")
    assert "Network is unreachable" in results(api, 4)[0]
    made = tmp_path / "out.txt"
    assert made.read_text() == "hi\n"
    assert (made.stat().st_uid, made.stat().st_gid) == (os.getuid(), os.getgid())
    files = kernel.run(
        "%%python\nprint(_conjure.files)"
    ).text()  # the host's path, not /workspace's
    assert files == f"{[str(made)]!r}\n"
    system = api.requests[0].body["system"][0]["text"]
    assert "/mnt/skills/whoami/SKILL.md" in system and "/workspace" in system
    assert result.record().answer == "All done."
    environment = result.record().environment  # the image is part of the record
    assert (
        environment["image_id"] == client.images.get(environment["image"]).id == container.image.id
    )


def test_the_sandbox_goes_with_reset_with_a_switch_and_at_shutdown(api, kernel, client):
    def run_a_command() -> None:
        api.script(replies.tool_use("bash_tool", {"command": "true"}), replies.text("ok"))
        assert kernel.run("Run true").status == "ok"
        assert len(sandboxes_of(client, kernel)) == 1

    run_a_command()
    assert kernel.run("%reset").status == "ok"
    assert wait_until(lambda: not sandboxes_of(client, kernel))

    run_a_command()
    assert kernel.run("%backend local").status == "ok"
    assert wait_until(lambda: not sandboxes_of(client, kernel))

    assert kernel.run("%backend docker").status == "ok"
    run_a_command()
    kernel.manager.shutdown_kernel(now=False)
    assert wait_until(lambda: not sandboxes_of(client, kernel))


def test_an_interrupted_two_minute_command_stops_and_leaves_no_process(api, kernel, client):
    api.script(replies.tool_use("bash_tool", {"command": "sleep 120; echo never"}))
    started = kernel.start("Wait two minutes")
    # a sandbox is listed from its creation on, a moment before it starts and takes execs
    assert wait_until(lambda: running_sandboxes(client, kernel), timeout=30)
    (container,) = running_sandboxes(client, kernel)
    assert wait_until(lambda: "sleep 120" in container_processes(client, container.id), timeout=30)
    kernel.manager.interrupt_kernel()
    interrupted = kernel.wait_for(started, timeout=60)  # a hang guard, not a speed claim
    assert [tool.state for tool in interrupted.record().timeline.tools] == ["interrupted"]
    assert not [p for p in container_processes(client, container.id) if p.startswith("sleep")]

    api.script(replies.tool_use("bash_tool", {"command": "echo next"}), replies.text("fine"))
    following = kernel.run("Go on")
    assert following.status == "ok", following.error
    assert results(api, -1)[0].startswith("next")
    history = api.requests[-1].body["messages"]
    assert any("interrupted" in r["content"] for m in history for r in tool_results_of(m))
    assert_every_tool_use_answered(api.requests[-1].body["messages"])


def test_a_kernel_killed_with_sigkill_leaves_no_container_for_long(api, kernel, client):
    api.script(replies.tool_use("bash_tool", {"command": "true"}), replies.text("ok"))
    assert kernel.run("Run true").status == "ok"
    assert sandboxes_of(client, kernel)
    os.kill(kernel.pid, signal.SIGKILL)
    assert wait_until(lambda: not sandboxes_of(client, kernel), timeout=20)


def test_a_container_killed_between_turns_is_replaced_and_the_trace_says_so(
    api, kernel, client, tmp_path
):
    api.script(
        replies.tool_use("bash_tool", {"command": "echo kept > kept.txt"}), replies.text("ok")
    )
    assert kernel.run("Write a file").status == "ok"
    (first,) = sandboxes_of(client, kernel)
    first.kill()
    assert wait_until(lambda: not sandboxes_of(client, kernel))
    api.script(replies.tool_use("bash_tool", {"command": "cat kept.txt"}), replies.text("ok"))
    after = kernel.run("Read it back")
    assert after.status == "ok", after.error
    assert results(api, -1)[0].startswith("kept")
    assert "container stopped" in after.text()


def test_a_shell_killed_for_memory_comes_back_by_itself_and_the_trace_says_why(api, kernel):
    assert kernel.run("%backend docker memory=64m").status == "ok"
    api.script(
        replies.tool_use("bash_tool", {"command": "exec python3 -c 'b = bytearray(200 << 20)'"}),
        replies.tool_use("bash_tool", {"command": "echo fresh"}),
        replies.text("ok"),
    )
    result = kernel.run("Use a lot of memory, then go on")
    assert result.status == "ok", result.error
    assert "out of memory" in results(api, 1)[0]
    assert results(api, 2)[0].startswith("fresh")
    assert "shell exited (status 137: killed by SIGKILL, out of memory" in result.text()


def test_an_engine_that_cannot_be_reached_keeps_the_session_where_it_was(api, kernel):
    failed = kernel.run("%backend docker host=tcp://127.0.0.1:9")
    assert failed.status == "error"
    assert "not reachable" in failed.error and "%backend local" in failed.text()
    assert kernel.run("%backend").text().startswith("docker:")
    missing = kernel.run("%backend docker image=conjure-missing:0")
    assert missing.status == "error"
    assert "conjure-missing:0 is not on" in missing.error
    assert "python -m conjure_kernel docker build" in missing.text()
    api.script(replies.text("still here"))
    assert kernel.run("Hello?").record().answer == "still here"


def test_backend_help_lists_every_sandbox_setting_with_its_default(kernel):
    shown = kernel.run("%backend docker --help").text()
    for setting in (
        "image=",
        "memory=",
        "cpus=",
        "pids=",
        "network=",
        "workdir=",
        "timeout=",
        "host=",
        "tmpfs=",
        "disk=",
    ):
        assert setting in shown
    assert "none|bridge" in shown


def test_settings_come_from_traitlets_configuration(api, tmp_path, client):
    config = tmp_path / "ipython_config.py"
    config.write_text(
        "c.ConjureMagics.backend_settings = {'docker': {'memory': '300m', 'pids': 64}}\n"
    )
    env = {
        "ANTHROPIC_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": api.url,
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }
    (tmp_path / "ipython" / "profile_default").mkdir(parents=True)
    config.rename(tmp_path / "ipython" / "profile_default" / "ipython_config.py")
    with RunningKernel("conjure", cwd=tmp_path, env=env) as running:
        assert running.run("%backend docker cpus=0.5").status == "ok"
        shown = running.run("%backend").text()
        assert "memory=300m" in shown and "pids=64" in shown and "cpus=0.5" in shown
        assert Path(tmp_path).exists()


def test_a_commands_output_shows_in_the_cell_while_it_runs(api, kernel):
    api.script(
        replies.tool_use("bash_tool", {"command": "echo step-one; sleep 1; echo step-two"}),
        replies.text("done"),
    )
    result = kernel.run("Count slowly")
    assert result.status == "ok", result.error
    printed = [
        found[1]
        for bundle in result.bundles()
        if (
            found := re.search(
                r'<pre class="conjure-tool-output">(.*?)</pre>', bundle.get("text/html", ""), re.S
            )
        )
    ]
    assert printed[0] == "step-one\n"  # shown while the command still slept
    assert "step-two" in result.record().tool_calls[0][1].content
