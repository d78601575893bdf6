"""Hostile packages (issue 17, findings 4 and 6): wide packages register while others are served, odd archives 4xx."""
from __future__ import annotations

import pickle
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from bosun_local.client import ServiceError
from bosun_local.model_package import MAX_FEATURES

from .helpers import Service, unique
from .test_packages import _file, _package_members, _tar, _upload


def wide_package(directory: Path, width: int, rows: int = 8) -> Path:
    """Write a regression package on `width` numeric features, with training data (so a baseline is computed)."""
    directory.mkdir(parents=True)
    names = [f"f{i}" for i in range(width)]
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.random((rows, width)), columns=names).assign(y=rng.random(rows))
    (directory / "model.pkl").write_bytes(pickle.dumps(LinearRegression().fit(frame[names], frame["y"])))
    spec = "targetName: y\ntargetType: regression\nfeatures: [" + ", ".join(names) + "]\n"
    (directory / "model.yaml").write_text(spec)
    frame.to_csv(directory / "training.csv", index=False)
    return directory


def register_while_pinging(service: Service, directory: Path) -> tuple[float, dict, list[float]]:
    """Register a package directory while another client reads /health; return its time, record and the reads'."""
    health: list[float] = []
    done = threading.Event()

    def ping() -> None:
        while not done.is_set():
            started = time.perf_counter()
            assert httpx.get(f"{service.url}/health", timeout=10).status_code == 200
            health.append(time.perf_counter() - started)
            time.sleep(0.05)

    pinger = threading.Thread(target=ping)
    pinger.start()
    try:
        started = time.perf_counter()
        package = service.client.register_package(directory, name=unique("wide"))
        return time.perf_counter() - started, package, health
    finally:
        done.set()
        pinger.join()


def test_wide_packages_register_and_others_are_served(service: Service, tmp_path: Path) -> None:
    """Finding 4: 20,000 features took 62 s (quadratic); bench/package_width.py measures the scaling now."""
    _, package, health = register_while_pinging(service, wide_package(tmp_path / "w20k", 20_000))
    assert len(package["features"]) == 20_000 and package["hasBaseline"]
    # The service answered other clients while it registered (each read within its 10 s timeout, one every 50 ms):
    # a blocked event loop would have let the pinger finish a read or two at most, around the registration.
    assert len(health) >= 5, health

    # Past the bounds: refused at once, naming the limit.
    (tmp_path / "w200k").mkdir()
    names = [f"f{i}" for i in range(MAX_FEATURES + 1)]
    (tmp_path / "w200k" / "model.yaml").write_text(
        "targetName: y\ntargetType: regression\nfeatures: [" + ",".join(names) + "]\n")
    (tmp_path / "w200k" / "model.pkl").write_bytes(pickle.dumps(None))
    response = _upload(service, _tar([_file(p.name, p.read_bytes()) for p in (tmp_path / "w200k").iterdir()]))
    assert response.status_code == 422 and "over the limit" in response.json()["detail"], response.text[:300]
    twice = [*(f"f{i}" for i in range(30)), *(f"f{i}" for i in range(30))]
    (tmp_path / "w200k" / "model.yaml").write_text(
        "targetName: y\ntargetType: regression\nfeatures: [" + ",".join(twice) + "]\n")
    response = _upload(service, _tar([_file(p.name, p.read_bytes()) for p in (tmp_path / "w200k").iterdir()]))
    detail = response.json()["detail"]
    assert response.status_code == 422 and "twice: f0, f1" in detail and "and 10 more" in detail, detail


def test_odd_archives_are_4xx_without_internal_paths(service: Service, package_dir: Path) -> None:
    """Finding 6: `x` then `x/y`, and a 5,000-character member name, were 500s naming the service's paths."""
    members = _package_members(package_dir)
    cases = [
        ([*members, _file("x", b"1"), _file("x/y", b"2")], "needs directory 'x', which the archive already holds"),
        ([*members, _file("a" * 5000, b"1")], "has a path longer than 1024 bytes"),
        ([*members, _file("d/" + "b" * 300, b"1")], "name longer than 255 bytes"),
    ]
    for archive, words in cases:
        response = _upload(service, _tar(archive))
        detail = response.json()["detail"]
        assert response.status_code == 422 and words in detail, detail
        assert str(service.home) not in detail and ".incoming" not in detail and len(detail) < 600, detail
    assert service.client.register_package(package_dir, name=unique("after"))["id"]


def test_names_that_shadow_ids_or_break_urls_are_refused(service: Service, package_dir: Path) -> None:
    """Finding 11: a deployment could take another's id as its name; `/` made it unreachable; escapes went raw."""
    package = service.client.register_package(package_dir, name=unique("names"))
    first = service.client.create_deployment(package["id"], unique("named"))["deployment"]
    for name, words in [(first["id"], "looks like an id"), ("team/model", "break the URLs"),
                        ("\x1b[2Jwipe", "control characters")]:
        with pytest.raises(ServiceError) as err:
            service.client.create_deployment(package["id"], name)
        assert err.value.status_code == 422 and words in err.value.message and "\x1b" not in err.value.message
    with pytest.raises(ServiceError) as err:
        service.client.register_package(package_dir, name="pkg/with/slashes")
    assert err.value.status_code == 422 and "break the URLs" in err.value.message
    assert service.client.get_deployment(first["id"])["name"] == first["name"]
