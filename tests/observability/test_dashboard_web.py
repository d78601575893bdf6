"""`bosun-local dashboard --web` in headless Chromium (Debian's, driven by Playwright): token, table, screenshot."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.agent.harness import BIN
from tests.conftest import free_port
from tests.observability.conftest import ObservedStack

pytestmark = pytest.mark.docker
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")


def test_web_dashboard_shows_the_deployments_table(observed_stack: ObservedStack, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert shutil.which(CHROMIUM), "Debian's chromium is missing: `make test-tools` installs it"
    port, token = free_port(), "web-dashboard-test-token"
    log = tmp_path / "dashboard.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([str(BIN / "bosun-local"), "dashboard", "--web", "--port", str(port)],
                                  env={**observed_stack.env, "BOSUN_DASHBOARD_TOKEN": token}, stdout=out,
                                  stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            try:
                refused = httpx.get(base + "/", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        assert refused.status_code == 401 and "token" in refused.text
        assert httpx.get(base + "/?token=wrong", timeout=5).status_code == 401
        rebound = httpx.get(base + "/", headers={"Host": f"evil.example:{port}"}, timeout=5)
        assert rebound.status_code == 403  # a DNS-rebinding page gets nothing
        assert f"{base}/?token={token}" in log.read_text()  # the URL to open is printed

        received: list[bytes] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: received.append(
                    frame if isinstance(frame, bytes) else frame.encode())))
                page.goto(f"{base}/?token={token}", wait_until="domcontentloaded")
                assert page.url == base + "/"  # the token left the address bar for a cookie
                page.wait_for_selector(".textual-terminal canvas", timeout=60_000)
                name = str(observed_stack.deployment["name"]).encode()

                def screen() -> bytes:
                    return ANSI.sub(b"", b"".join(received))

                deadline = time.monotonic() + 60
                while not (name in screen() and b"prediction URL" in screen()):
                    assert time.monotonic() < deadline, f"no deployments table in the page: {screen()[-2000:]!r}"
                    page.wait_for_timeout(500)
                page.wait_for_timeout(1000)  # let the canvas paint what arrived
                ARTIFACTS.mkdir(exist_ok=True)
                shot = ARTIFACTS / "dashboard-web.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
            finally:
                browser.close()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert os.environ.get("BOSUN_DASHBOARD_TOKEN") is None
