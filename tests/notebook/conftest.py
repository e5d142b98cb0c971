"""Fixtures of the notebook layer's tests."""

from __future__ import annotations

import pytest
from live_frontends import Frontends

from conjure_kernel.notebook import views


@pytest.fixture
def frontends(monkeypatch) -> Frontends:
    """The live view's display messages, kept instead of sent (see live_frontends.py)."""
    fake = Frontends()
    monkeypatch.setattr(views, "display", fake.display)
    monkeypatch.setattr(views, "clear_output", fake.clear_output)
    return fake
