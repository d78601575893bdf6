"""Hostile config and names (issue 17, finding 11): clear errors naming file, key and fix; terminals get escapes."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bosun_local.cli.output import print_table
from bosun_local.config import load_config
from bosun_local.contracts.names import name_problem, terminal_safe
from bosun_local.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

REFUSED = [
    ("projectName: \"My Stack!\"\n", "projectName", "not a valid Compose/Docker name"),
    ("waitTimeoutSec: -5\n", "waitTimeoutSec", "must be more than 0"),
    ("traefikPortMapping: [\"8080\"]\n", "traefikPortMapping", "not host_ip:host_port:container_port"),
    ("servicePortMapping: [\"127.0.0.1:99999:8765\"]\n", "servicePortMapping", "ports 1-65535"),
    ("serviceUrl: \"localhost:8765\"\n", "serviceUrl", "not an http(s) URL"),
    ("spool: kafka\n", "spool", "'kafka'"),
]


@pytest.mark.parametrize(("text", "key", "words"), REFUSED, ids=[r[1] for r in REFUSED])
def test_bad_values_name_file_line_key_and_fix(bosun_home: Path, text: str, key: str, words: str) -> None:
    path = bosun_home / "bosun-local.yaml"
    path.write_text("dockerNetwork: ok-net\n" + text)
    with pytest.raises(ConfigError) as err:
        load_config()
    assert f"{path}, line 2: key '{key}'" in err.value.message and words in err.value.message, err.value.message
    assert err.value.fix


def test_negative_timeout_from_the_environment(bosun_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOSUN_WAIT_TIMEOUT_SEC", "-1")
    with pytest.raises(ConfigError) as err:
        load_config()
    assert "environment variable BOSUN_WAIT_TIMEOUT_SEC: key 'waitTimeoutSec'" in err.value.message


def test_all_interfaces_binding_is_allowed_with_a_warning(bosun_home: Path, capsys: pytest.CaptureFixture) -> None:
    (bosun_home / "bosun-local.yaml").write_text("rabbitmqPortMapping: [\"0.0.0.0:5672:5672\", \"15672:15672\"]\n")
    assert load_config()["rabbitmqPortMapping"][0].startswith("0.0.0.0")
    err = capsys.readouterr().err
    assert "'0.0.0.0:5672:5672' binds every network interface" in err and "'15672:15672' binds every" in err


def test_non_utf8_and_bad_mapping_are_errors_not_tracebacks(tmp_path: Path) -> None:
    """The CLI answers with the file, the line and the fix, and exits 1: no traceback."""
    env = {**os.environ, "BOSUN_HOME": str(tmp_path)}
    for text, words in [(b"dockerNetwork: net\nprojectName: \"b\xffd\"\n", "line 2: byte 0xff is not UTF-8"),
                        (b"traefikPortMapping: [\"abc:def:80\"]\n", "not host_ip:host_port:container_port")]:
        (tmp_path / "bosun-local.yaml").write_bytes(text)
        done = subprocess.run([sys.executable, "-m", "bosun_local", "status"], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 1 and words in done.stderr and "fix:" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("name", "words"), [
    ("0123456789abcdef01234567", "looks like an id"), ("team/model", "break the URLs"), ("a?b#c", "break the URLs"),
    ("\x1b[31mred\x1b[0m", "control characters"), ("x" * 101, "longer than 100"), ("   ", "is empty"),
])
def test_names_that_shadow_ids_break_urls_or_hold_escapes_are_refused(name: str, words: str) -> None:
    problem = name_problem(name, "deployment name")
    assert problem and words in problem and "\x1b" not in problem
    assert name_problem("churn model v2.1_b-3", "deployment name") is None


def test_terminal_output_escapes_control_characters(capsys: pytest.CaptureFixture) -> None:
    hostile = "evil\x1b[2J\x1b]0;title\x07name"
    print_table([{"name": hostile}], ["name"])
    out = capsys.readouterr().out
    assert "\x1b[2J" not in out and "\x1b]0" not in out and "\\x1b[2J" in out
    assert terminal_safe("plain name") == "plain name"


def test_dashboard_data_reaches_widgets_escaped() -> None:
    """Every string the dashboard polls (names, event messages) is escaped before any widget sees it."""
    from bosun_local.client import ServiceClient
    from bosun_local.tui.snapshot import Snapshot
    from bosun_local.tui.source import DashboardSource

    source = DashboardSource(ServiceClient("http://127.0.0.1:9", "token"))
    snap = Snapshot(True, "ok")
    events = source._part(snap, "events", lambda: [{"message": "app says \x1b[2J\x1b[31m", "data": {"k": "\x07"}}])
    assert events == [{"message": "app says \\x1b[2J\\x1b[31m", "data": {"k": "\\x07"}}]
