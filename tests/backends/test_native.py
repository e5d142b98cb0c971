import asyncio
import threading
from pathlib import Path

import pytest
from scripted_client import ScriptedClient, text_reply, tool_use_reply

from conjure_kernel.backends.base import SessionOptions, TurnOptions
from conjure_kernel.backends.native import (
    NativeBackend,
    NativeContext,
    NativeSession,
    NativeSettings,
    NativeSkill,
)
from conjure_kernel.errors import BackendError
from conjure_kernel.events import ToolCallFinished
from conjure_kernel.tools.values import ToolCall, ToolResult


class Notes(NativeSkill):
    """Keeps notes in memory; sync methods, so they run in a worker thread."""

    name = "note-book"
    description = "Keeps short notes."

    def __init__(self) -> None:
        self.notes: dict[str, str] = {}
        self.threads: set[int] = set()

    def read(self, path, context, offset=None, limit=None):
        self.threads.add(threading.get_ident())
        return self.notes[path][offset or 0 :][:limit]

    def write(self, path, content, context):
        self.notes[path] = content


class Shouter(NativeSkill):
    name = "shouter"
    description = "Shouts a command back."

    async def execute(self, command, context):
        await asyncio.sleep(0)
        return f"{command.upper()} (from {context.skill} in {context.workdir})"


class Broken(NativeSkill):
    name = "broken"
    description = "Always fails."

    def modify(self, path, old_content, new_content, context):
        raise ValueError(f"cannot change {path}")


def new_session(namespace: dict, tmp_path: Path) -> NativeSession:
    options = SessionOptions(NativeSettings.parse({"workdir": str(tmp_path)}), namespace=namespace)
    return asyncio.run(NativeBackend().open_session([], options))


def call(session: NativeSession, name: str, **arguments) -> ToolResult:
    return asyncio.run(session.executor.run(ToolCall("toolu_1", name, arguments)))


# tools


def test_each_implemented_method_becomes_a_tool_named_after_the_skill(tmp_path):
    session = new_session({"Notes": Notes, "Shouter": Shouter, "Broken": Broken}, tmp_path)
    names = [tool["name"] for tool in session.executor.tools]
    assert names == ["broken_modify", "note_book_read", "note_book_write", "shouter_execute"]


def test_tool_schemas_name_the_inputs_of_each_method(tmp_path):
    session = new_session({"Notes": Notes, "Shouter": Shouter, "Broken": Broken}, tmp_path)
    tools = {tool["name"]: tool for tool in session.executor.tools}
    schemas = {name: tool["input_schema"] for name, tool in tools.items()}
    assert schemas["shouter_execute"]["required"] == ["command"]
    assert list(schemas["note_book_read"]["properties"]) == ["path", "offset", "limit"]
    assert schemas["note_book_read"]["required"] == ["path"]
    assert schemas["note_book_write"]["required"] == ["path", "content"]
    assert schemas["broken_modify"]["required"] == ["path", "old_content", "new_content"]
    assert tools["shouter_execute"]["description"].startswith("Shouts a command back.")


def test_sync_methods_run_in_a_worker_thread(tmp_path):
    notes = Notes()
    session = new_session({"notes": notes}, tmp_path)
    assert call(session, "note_book_write", path="todo", content="buy milk").content == "(done)"
    assert call(session, "note_book_read", path="todo").content == "buy milk"
    assert threading.get_ident() not in notes.threads


def test_optional_inputs_are_passed_only_when_given(tmp_path):
    notes = Notes()
    notes.notes["todo"] = "0123456789"
    session = new_session({"notes": notes}, tmp_path)
    assert call(session, "note_book_read", path="todo", offset=2, limit=3).content == "234"


def test_async_methods_are_awaited_with_a_context(tmp_path):
    session = new_session({"Shouter": Shouter}, tmp_path)
    result = call(session, "shouter_execute", command="hi")
    assert result == ToolResult("toolu_1", f"HI (from shouter in {tmp_path})")


def test_exceptions_become_error_results(tmp_path):
    session = new_session({"Broken": Broken}, tmp_path)
    result = call(session, "broken_modify", path="a", old_content="x", new_content="y")
    assert result.is_error and result.content == "ValueError: cannot change a"


def test_missing_input_is_an_error_naming_the_key(tmp_path):
    session = new_session({"Broken": Broken}, tmp_path)
    result = call(session, "broken_modify", path="a", old_content="x")
    assert result.is_error and "'new_content'" in result.content


def test_the_context_carries_the_users_namespace(tmp_path):
    class Peek(NativeSkill):
        name = "peek"
        description = "Reads a variable of the notebook."

        def execute(self, command: str, context: NativeContext) -> object:
            return context.namespace[command]

    session = new_session({"Peek": Peek, "answer": 42}, tmp_path)
    assert call(session, "peek_execute", command="answer").content == "42"


# gathering skills from the namespace


def test_skills_are_gathered_from_classes_and_instances_sorted_by_name(tmp_path):
    notes = Notes()
    namespace = {"Shouter": Shouter, "Notes": Notes, "notes": notes, "_": notes}
    namespace["NativeSkill"] = NativeSkill
    session = new_session(namespace, tmp_path)
    assert [skill.name for skill in session.native_skills] == ["note-book", "shouter"]
    assert session.native_skills[0] is notes
    assert session.describe().startswith(
        f"native: Python skills in this kernel: note-book, shouter (workdir={tmp_path}). "
        "Boundary: none;"
    )


def test_classes_without_an_implemented_method_are_skipped(tmp_path):
    class Base(NativeSkill):
        name = "base"
        description = "Nothing yet."

    session = new_session({"Base": Base, "Shouter": Shouter}, tmp_path)
    assert [skill.name for skill in session.native_skills] == ["shouter"]


def test_no_native_skill_is_a_backend_error_with_an_example(tmp_path):
    with pytest.raises(BackendError, match="no NativeSkill") as raised:
        new_session({"x": 1, "NativeSkill": NativeSkill}, tmp_path)
    assert "class Greeter(NativeSkill):" in raised.value.hint
    assert "def execute(self, command, context):" in raised.value.hint


def test_a_skill_without_a_valid_name_is_a_backend_error(tmp_path):
    class Nameless(NativeSkill):
        description = "Has no name."

        def execute(self, command, context):
            return command

    with pytest.raises(BackendError, match="Nameless"):
        new_session({"Nameless": Nameless}, tmp_path)


def test_two_skills_with_one_name_are_a_backend_error(tmp_path):
    class OtherShouter(Shouter):
        pass

    with pytest.raises(BackendError, match="'shouter'"):
        new_session({"Shouter": Shouter, "OtherShouter": OtherShouter}, tmp_path)


def test_a_class_that_needs_arguments_is_a_backend_error_suggesting_an_instance(tmp_path):
    class Configured(Shouter):
        def __init__(self, volume: int) -> None:
            self.volume = volume

    with pytest.raises(BackendError, match="Configured") as raised:
        new_session({"Configured": Configured}, tmp_path)
    assert "create an instance yourself" in raised.value.hint
    session = new_session({"Configured": Configured, "loud": Configured(11)}, tmp_path)
    assert session.native_skills[0].volume == 11


def test_the_system_prompt_lists_each_skill_and_its_tools(tmp_path):
    session = new_session({"Notes": Notes, "Shouter": Shouter}, tmp_path)
    assert "- note-book: Keeps short notes. Tools: note_book_read, note_book_write" in (
        session.system_prompt
    )
    assert "<available_skills>" not in session.system_prompt


def test_chat_sends_a_native_tool_result_back_to_the_model(tmp_path):
    backend = NativeBackend()
    options = SessionOptions(
        NativeSettings.parse({"workdir": str(tmp_path)}), namespace={"S": Shouter}
    )
    session = asyncio.run(backend.open_session([], options))
    client = ScriptedClient(
        [tool_use_reply(("toolu_1", "shouter_execute", {"command": "hey"})), text_reply("done")]
    )
    history: list = []

    async def scenario() -> list:
        turn = backend.chat(session, "shout", client, TurnOptions(model="m", messages=history))
        return [event async for event in turn]

    events = asyncio.run(scenario())
    assert [e.result.content for e in events if isinstance(e, ToolCallFinished)] == [
        f"HEY (from shouter in {tmp_path})"
    ]
    assert [tool["name"] for tool in client.requests[0].tools] == ["shouter_execute"]
    assert client.requests[1].messages[-1]["content"][0]["tool_use_id"] == "toolu_1"
    asyncio.run(backend.close(session))
