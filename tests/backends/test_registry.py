from pathlib import Path

import pytest

from conjure_kernel.backends.local import LocalBackend
from conjure_kernel.backends.native import NativeBackend
from conjure_kernel.backends.registry import backend_names, get_backend
from conjure_kernel.errors import BackendError, UnknownBackend


def install_broken_distribution(site: Path) -> None:
    """A real (if tiny) installed distribution whose backend entry point cannot import."""
    info = site / "broken_backend-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-backend\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[conjure_kernel.backends]\nbroken = no_such_module_for_conjure:Backend\n"
    )


def test_backend_names_lists_the_built_in_backends_sorted():
    names = backend_names()
    assert {"local", "native"} <= set(names)
    assert names == sorted(names)


def test_get_backend_creates_the_registered_class():
    assert isinstance(get_backend("local"), LocalBackend)
    assert isinstance(get_backend("native"), NativeBackend)


def test_unknown_backend_raises_listing_the_available_ones():
    with pytest.raises(UnknownBackend) as raised:
        get_backend("nope")
    assert raised.value.available == backend_names()
    assert "local" in str(raised.value) and "native" in str(raised.value)


def test_a_backend_that_fails_to_import_names_its_distribution(tmp_path, monkeypatch):
    install_broken_distribution(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "broken" in backend_names()
    with pytest.raises(BackendError, match="broken-backend") as raised:
        get_backend("broken")
    assert "ModuleNotFoundError" in str(raised.value)
    assert not isinstance(raised.value, UnknownBackend)


def test_an_entry_point_name_that_differs_from_backend_type_is_refused(tmp_path, monkeypatch):
    """One name per backend: ``%backend sandbox`` must not open a session calling itself local."""
    info = tmp_path / "renamed_backend-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: renamed-backend\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[conjure_kernel.backends]\nsandbox = conjure_kernel.backends.local:LocalBackend\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(BackendError, match=r"'sandbox' .* calls itself 'local'"):
        get_backend("sandbox")


def test_every_installed_backend_declares_its_settings():
    for name in backend_names():
        backend = get_backend(name)
        assert backend.backend_type == name
        assert all(setting.help for setting in backend.settings_class.declared())
