"""Fixtures of the notebook layer's tests: the local Messages API, a conjure kernel that
uses it, and a stand-in for the frontends that keeps the live view's messages."""

from __future__ import annotations

import pytest
from fakeapi import FakeMessagesAPI
from kernel_harness import RunningKernel
from live_frontends import Frontends

from conjure_kernel.notebook import views
from conjure_kernel.notebook.display import LiveTurnView


@pytest.fixture
def frontends(monkeypatch) -> Frontends:
    """The live view's display messages, kept instead of sent (see live_frontends.py).

    The live view draws from the first event on, as it does for a turn that runs a
    while (``tests/notebook/test_quick_turns.py`` covers the turn that ends at once)."""
    fake = Frontends()
    monkeypatch.setattr(LiveTurnView, "start_after", 0.0)
    monkeypatch.setattr(views, "display", fake.display)
    monkeypatch.setattr(views, "clear_output", fake.clear_output)
    return fake


@pytest.fixture
def api():
    with FakeMessagesAPI() as server:
        yield server


@pytest.fixture
def kernel(api, tmp_path):
    """A conjure kernel whose tools run without asking: these tests are about chatting, and
    this harness allows no stdin, where the local backend's default would deny each command
    (tests/notebook/test_kernel_permissions.py covers the asking)."""
    env = {"ANTHROPIC_API_KEY": "sk-test-key-123", "ANTHROPIC_BASE_URL": api.url}
    with RunningKernel("conjure", cwd=tmp_path, env=env) as running:
        assert running.run("%permissions auto").status == "ok"
        yield running
