"""Backend settings: typed parsing, clear errors naming the key, defaults from configuration."""

from __future__ import annotations

import pytest

from conjure_kernel.backends.local import LocalBackend
from conjure_kernel.backends.settings import Setting, describe_settings, parse_settings
from conjure_kernel.errors import BackendSettingError

TIMEOUT = Setting("timeout", float, 300.0, "seconds before a call is killed", positive=True)
NETWORK = Setting("network", str, "none", "container network", choices=("none", "bridge"))
READ_ONLY = Setting("read_only", bool, True, "mount the root file system read-only")
PIDS = Setting("pids", int, 256, "process limit", positive=True)
DECLARED = (TIMEOUT, NETWORK, READ_ONLY, PIDS)


def test_given_values_are_typed_and_the_rest_take_defaults():
    values = parse_settings(DECLARED, {"timeout": "60", "read_only": "no"})
    assert values == {"timeout": 60.0, "network": "none", "read_only": False, "pids": 256}


def test_configured_defaults_win_over_declared_ones_and_foreign_keys_are_ignored():
    values = parse_settings(DECLARED, {}, {"timeout": 30, "workdir": "/elsewhere", "pids": ""})
    assert values["timeout"] == 30.0 and values["pids"] == 256
    assert "workdir" not in values


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"timeout": "abc"}, "timeout=abc: expected a finite number"),
        ({"timeout": "nan"}, "timeout=nan: expected a finite number"),
        ({"timeout": "1e400"}, "timeout=1e400: expected a finite number"),
        ({"timeout": "-5"}, "timeout=-5: expected a number greater than 0"),
        ({"timeout": "0"}, "timeout=0: expected a number greater than 0"),
        ({"pids": "2.5"}, "pids=2.5: expected a finite integer"),
        ({"network": "host"}, "network=host: expected one of none, bridge"),
        ({"read_only": "maybe"}, "read_only=maybe: expected true or false"),
    ],
)
def test_a_bad_value_names_the_key_and_the_expected_type(given, message):
    with pytest.raises(BackendSettingError) as raised:
        parse_settings(DECLARED, given)
    assert str(raised.value) == message


def test_an_unknown_key_lists_the_accepted_ones():
    with pytest.raises(BackendSettingError) as raised:
        parse_settings(DECLARED, {"timout": "5"}, backend="docker")
    assert str(raised.value) == (
        "unknown setting 'timout' for backend 'docker'; "
        "accepted settings: timeout, network, read_only, pids"
    )


def test_a_bad_configured_default_is_an_error_too():
    with pytest.raises(BackendSettingError, match="timeout=-1"):
        parse_settings(DECLARED, {}, {"timeout": -1})


def test_help_lines_show_type_default_and_purpose():
    assert describe_settings(DECLARED) == [
        "  timeout=number (default 300.0)  seconds before a call is killed",
        "  network=none|bridge (default none)  container network",
        "  read_only=true|false (default True)  mount the root file system read-only",
        "  pids=integer (default 256)  process limit",
    ]


def test_the_local_backend_declares_its_settings():
    names = [s.name for s in LocalBackend.settings]
    assert names == ["workdir", "timeout", "pass_env", "sandbox", "network"]
