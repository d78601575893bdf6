"""The dashboard in a real terminal: tmux runs `bosun-local dashboard`, send-keys types, capture-pane reads."""
from __future__ import annotations

import secrets
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bosun_local.client import ServiceClient
from tests.conftest import need
from tests.support.service import running_service
from tests.tui.conftest import write_tiny_package

BOSUN_LOCAL = Path(sys.executable).with_name("bosun-local")


def tmux(*args: str) -> subprocess.CompletedProcess[str]:
    """Run a tmux command and return its result."""
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=20)


def wait_screen(session: str, condition: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
    """Capture the pane until a condition holds on its text; fail with the last screen."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        result = tmux("capture-pane", "-p", "-t", session)
        screen = result.stdout
        if result.returncode == 0 and condition(screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; the screen was:\n{screen}")


def test_dashboard_in_tmux_shows_deployments_and_takes_keys(tmp_path: Path) -> None:
    need(shutil.which("tmux") is not None, "tmux is not installed (apt-get install -y tmux)")
    home = tmp_path / "home"
    with running_service(home) as (url, token), ServiceClient(url, token) as client:
        package = client.register_package(write_tiny_package(tmp_path / "pkg", "alpha-model"))
        names = ["tmux-churn", "tmux-fraud", "tmux-pricing"]
        for name in names:
            client.create_deployment(package["id"], name, external=True)
        session = f"bosun-dash-{secrets.token_hex(4)}"
        # COLUMNS/LINES (set by some runners) would override the pane size in Textual: drop them.
        command = (f"env -u COLUMNS -u LINES BOSUN_HOME={shlex.quote(str(home))} "
                   f"{shlex.quote(str(BOSUN_LOCAL))} dashboard --url {shlex.quote(url)} "
                   f"--token {shlex.quote(token)} --interval 0.5")
        started = tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "48", command)
        assert started.returncode == 0, started.stderr
        try:
            screen = wait_screen(session, lambda s: all(n in s for n in [*names, "Quit"]),
                                 "the deployment names and the footer")
            assert "service up" in screen and "d Deploy" in screen

            # A deployment created elsewhere appears; `o` sorts; `q` quits the app and so ends the session.
            client.create_deployment(package["id"], "tmux-late", external=True)
            wait_screen(session, lambda s: "tmux-late" in s, "the late deployment")
            tmux("send-keys", "-t", session, "o")
            wait_screen(session, lambda s: "sorted by name ascending" in s, "the sort to show in the header")
            tmux("send-keys", "-t", session, "q")
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and tmux("has-session", "-t", session).returncode == 0:
                time.sleep(0.2)
            assert tmux("has-session", "-t", session).returncode != 0, "q did not end the dashboard"
        finally:
            tmux("kill-session", "-t", session)
