"""Multi-model mode: serve every deployment dir of the filesystem plugin's layout; pick up changes live."""
from __future__ import annotations

import json
import shutil
import tarfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml

from bosun_local.plugins.framework.atomic_fs import install_dir, remove_dir, tmp_sibling
from bosun_local.pps.registry import MultiRegistry
from tests.pps.conftest import PPSServer
from tests.pps.packages import ROW, regression_package, regression_prediction

WATCH = "0.2"
WAIT_SEC = 30


def deploy(base: Path, deployment_id: str, model_id: str, package: Path) -> Path:
    """Install a deployment dir the way the filesystem plugin does: build it aside, then rename it into place."""
    target = base / f"deployment_{deployment_id}"
    new = tmp_sibling(target)
    shutil.copytree(package, new)
    (new / "config.yml").write_text(yaml.safe_dump({"deployment_id": deployment_id, "model_id": model_id}))
    install_dir(new, target)
    return target


def wait_for(check: object, what: str) -> None:
    """Poll check() until it is truthy, bounded in time."""
    deadline = time.monotonic() + WAIT_SEC
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {WAIT_SEC}s waiting for {what}")


def predict(client: httpx.Client, deployment_id: str) -> httpx.Response:
    return client.post(f"/deployments/{deployment_id}/predictions", json=[ROW])


@pytest.fixture
def base(tmp_path: Path) -> Path:
    directory = tmp_path / "base"
    directory.mkdir()
    return directory


@pytest.fixture(scope="module")
def shifted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The regression package refitted on target + 1000, so its answers tell the models apart."""
    return regression_package(tmp_path_factory.mktemp("shifted") / "pkg", shift=1000.0)


def test_add_replace_remove_under_load(start_server: object, base: Path, packages: dict[str, Path],
                                       shifted: Path) -> None:
    old_value, new_value = regression_prediction(ROW), regression_prediction(ROW, shift=1000.0)
    deploy(base, "aaa", "m1", packages["regression"])
    server: PPSServer = start_server({"PPS_MULTI_BASE_DIR": str(base), "PPS_WATCH_INTERVAL_SEC": WATCH})  # type: ignore[operator]
    wait_for(lambda: predict(server.client, "aaa").status_code == 200, "deployment aaa")

    stop = threading.Event()
    outcomes: Counter[str] = Counter()
    seen: set[float] = set()
    lock = threading.Lock()

    def hammer() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for _ in range(100_000):  # bounded; the test stops it far earlier
                if stop.is_set():
                    return
                resp = predict(client, "aaa")
                with lock:
                    outcomes[str(resp.status_code)] += 1
                    if resp.status_code == 200:
                        seen.add(round(resp.json()["data"][0]["prediction"], 6))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        deploy(base, "bbb", "m2", packages["binary"])
        wait_for(lambda: predict(server.client, "bbb").status_code in (200, 422), "deployment bbb")
        assert server.client.get("/deployments/bbb/info").json()["modelId"] == "m2"

        deploy(base, "aaa", "m3", shifted)  # replace aaa's model
        wait_for(lambda: server.client.get("/deployments/aaa/info").json()["modelId"] == "m3", "aaa replaced")
        time.sleep(0.5)  # keep the load on the new model for a moment

        assert remove_dir(base / "deployment_bbb")
        wait_for(lambda: predict(server.client, "bbb").status_code == 404, "bbb removed")
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert set(outcomes) == {"200"}, outcomes
    assert outcomes["200"] > 20
    assert seen == {round(old_value, 6), round(new_value, 6)}
    info = server.client.get("/info").json()
    assert info["mode"] == "multi" and [d["deploymentId"] for d in info["deployments"]] == ["aaa"]
    gone = predict(server.client, "bbb").json()["message"]
    assert "bbb is not served here" in gone and "aaa" in gone


def test_layout_rules_and_failures(start_server: object, base: Path, packages: dict[str, Path],
                                   tmp_path: Path) -> None:
    # Half-written dir: no config.yml yet, so not a deployment.
    half = base / "deployment_half"
    shutil.copytree(packages["regression"], half)
    # Not our prefix.
    deploy(base, "zzz", "m0", packages["regression"]).rename(base / "other_zzz")
    # A package that cannot load: served as an error, the others keep serving.
    broken = deploy(base, "broken", "mb", packages["regression"])
    (broken / "model.pkl").write_bytes(b"garbage")
    # The artifact as a .tar.gz, as the plugin copies a file artifact.
    archive = tmp_path / "custom.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(packages["custom"], arcname="custom")
    tar_dir = base / "deployment_tgz"
    tar_dir.mkdir()
    shutil.copy(archive, tar_dir / archive.name)
    (tar_dir / "config.yml").write_text(yaml.safe_dump({"deployment_id": "tgz", "model_id": "mt"}))

    server: PPSServer = start_server({"PPS_MULTI_BASE_DIR": str(base), "PPS_WATCH_INTERVAL_SEC": WATCH})  # type: ignore[operator]
    client = server.client
    wait_for(lambda: client.get("/health").status_code == 200, "first scan")
    ids = [d["deploymentId"] for d in client.get("/info").json()["deployments"]]
    assert ids == ["broken", "tgz"]

    resp = predict(client, "broken")
    assert resp.status_code == 503 and "cannot load model.pkl" in resp.json()["message"]
    assert client.get("/deployments/broken/health").status_code == 503
    assert client.post("/deployments/tgz/predictions", json=[{"x": 2, "delay": 0}]).json()["data"][0]["prediction"] == 5
    assert client.get("/deployments/tgz/health").json() == {"status": "ok"}

    unrouted = client.post("/predictions", json=[ROW])
    assert unrouted.status_code == 404 and "/deployments/<id>/predictions" in unrouted.json()["message"]
    v2 = client.post("/v2/models/tgz/infer", json={"inputs": [
        {"name": "x", "shape": [1], "datatype": "FP64", "data": [3]},
        {"name": "delay", "shape": [1], "datatype": "FP64", "data": [0]}]})
    assert v2.json()["outputs"][0]["data"] == [7.0]

    # The plugin finishes the half-written dir: now it serves.
    (half / "config.yml").write_text(yaml.safe_dump({"deployment_id": "half", "model_id": "mh"}))
    wait_for(lambda: predict(client, "half").status_code == 200, "deployment half")
    # A fixed package replaces the broken one.
    deploy(base, "broken", "mb2", packages["regression"])
    wait_for(lambda: predict(client, "broken").status_code == 200, "broken fixed")


def test_bad_replacement_keeps_the_old_model(start_server: object, base: Path, packages: dict[str, Path]) -> None:
    deploy(base, "aaa", "m1", packages["regression"])
    server: PPSServer = start_server({"PPS_MULTI_BASE_DIR": str(base), "PPS_WATCH_INTERVAL_SEC": WATCH})  # type: ignore[operator]
    wait_for(lambda: predict(server.client, "aaa").status_code == 200, "deployment aaa")
    target = deploy(base, "aaa", "m2", packages["regression"])
    (target / "model.pkl").write_bytes(b"garbage")
    wait_for(lambda: "error" in server.client.get("/deployments/aaa/info").json(), "failed replacement noticed")
    info = server.client.get("/deployments/aaa/info").json()
    assert info["modelId"] == "m1" and "cannot load model.pkl" in info["error"]
    assert predict(server.client, "aaa").status_code == 200


def test_the_load_status_is_written_to_the_status_file_after_each_change(base: Path, packages: dict[str, Path],
                                                                         tmp_path: Path) -> None:
    """A swarm pool's tasks cannot be polled from the plugin: each writes what /status answers to its own file."""
    status_file = tmp_path / "task1.json"
    registry = MultiRegistry(base, interval_sec=0.2, status_file=status_file)
    registry.start()
    try:
        assert json.loads(status_file.read_text()) == {"ready": True, "deployments": {}}
        target = deploy(base, "d1", "m1", packages["regression"])
        inode = target.stat().st_ino

        def written() -> dict[str, object] | None:
            return json.loads(status_file.read_text())["deployments"].get("d1")
        wait_for(lambda: written() is not None, "the status file to name d1")
        assert written() == {"modelId": "m1", "attemptedModelId": "m1", "inode": inode, "error": None}
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".task1")] == []  # no temporary left
        remove_dir(target)
        wait_for(lambda: written() is None, "the status file to drop d1")
    finally:
        registry.stop()
