"""Backend settings: a frozen, typed object per backend, clear errors naming the key,
defaults from configuration, one declaration for parsing, --help and the picker."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from conjure_kernel.backends.docker.settings import DockerSettings
from conjure_kernel.backends.local_settings import LocalSettings
from conjure_kernel.backends.registry import backend_names, get_backend
from conjure_kernel.backends.settings import BackendSettings, describe_settings, setting
from conjure_kernel.errors import BackendSettingError


def _even(value: int) -> int:
    if value % 2:
        raise ValueError("expected an even number")
    return value


@dataclass(frozen=True)
class Example(BackendSettings):
    timeout: float = setting(300.0, "seconds before a call is killed", positive=True)
    network: str = setting("none", "container network", choices=("none", "bridge"))
    read_only: bool = setting(True, "mount the root file system read-only")
    pids: int = setting(256, "process limit", positive=True, check=_even)


def test_given_values_are_typed_and_the_rest_take_defaults():
    values = Example.parse({"timeout": "60", "read_only": "no"})
    assert values == Example(timeout=60.0, network="none", read_only=False, pids=256)
    assert isinstance(values.timeout, float) and values.read_only is False


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Example.parse().timeout = 5  # type: ignore[misc]


def test_configured_defaults_win_over_declared_ones_and_foreign_keys_are_ignored():
    values = Example.parse({}, {"timeout": 30, "workdir": "/elsewhere", "pids": ""})
    assert values.timeout == 30.0 and values.pids == 256
    assert not hasattr(values, "workdir")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"timeout": "abc"}, "timeout=abc: expected a finite number"),
        ({"timeout": "nan"}, "timeout=nan: expected a finite number"),
        ({"timeout": "1e400"}, "timeout=1e400: expected a finite number"),
        ({"timeout": "-5"}, "timeout=-5: expected a number greater than 0"),
        ({"timeout": "0"}, "timeout=0: expected a number greater than 0"),
        ({"pids": "2.5"}, "pids=2.5: expected a finite integer"),
        ({"pids": "3"}, "pids=3: expected an even number"),
        ({"network": "host"}, "network=host: expected one of none, bridge"),
        ({"read_only": "maybe"}, "read_only=maybe: expected true or false"),
    ],
)
def test_a_bad_value_names_the_key_and_the_expected_type(given, message):
    with pytest.raises(BackendSettingError) as raised:
        Example.parse(given)
    assert str(raised.value) == message


def test_an_unknown_key_lists_the_accepted_ones():
    with pytest.raises(BackendSettingError) as raised:
        Example.parse({"timout": "5"}, backend="docker")
    assert str(raised.value) == (
        "unknown setting 'timout' for backend 'docker'; "
        "accepted settings: timeout, network, read_only, pids"
    )


def test_a_bad_configured_default_is_an_error_too():
    with pytest.raises(BackendSettingError, match="timeout=-1"):
        Example.parse({}, {"timeout": -1})


def test_help_lines_show_type_default_and_purpose():
    assert describe_settings(Example.declared()) == [
        "  timeout=number (default 300)  seconds before a call is killed",
        "  network=none|bridge (default none)  container network",
        "  read_only=true|false (default True)  mount the root file system read-only",
        "  pids=integer (default 256)  process limit",
    ]


def test_a_field_without_a_declaration_is_refused():
    @dataclass(frozen=True)
    class Undeclared(BackendSettings):
        loose: int = 3

    with pytest.raises(TypeError, match=r"Undeclared\.loose is not declared with setting"):
        Undeclared.declared()


def test_the_local_backend_declares_its_settings():
    names = [s.name for s in LocalSettings.declared()]
    assert names == ["workdir", "timeout", "pass_env", "sandbox", "network"]
    assert LocalSettings.parse({"pass_env": " B, A,,"}).passed_env == ("A", "B")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"memory": "0"}, "memory=0: expected a size of at least 6m, such as 512m or 2g"),
        ({"tmpfs": "lots"}, "tmpfs=lots: expected a size of at least 1m, such as 256m"),
        ({"disk": "-1g"}, "disk=-1g: expected a size of at least 1m, such as 4g or 500m, or none"),
    ],
)
def test_docker_sizes_are_checked_where_they_are_declared(given, message):
    with pytest.raises(BackendSettingError) as raised:
        DockerSettings.parse(given)
    assert str(raised.value) == message


def test_docker_sizes_read_in_any_case():
    values = DockerSettings.parse({"memory": "2G", "disk": "NONE"})
    assert (values.memory, values.disk) == ("2g", "none")


def test_every_installed_backend_declares_typed_settings_with_help():
    for name in backend_names():
        backend = get_backend(name)
        declared = backend.settings_class.declared()
        assert all(item.help for item in declared), name
        assert isinstance(backend.settings_class.parse(), backend.settings_class)
