"""Model packages: registration from a directory or archive, validation errors, baselines, immutability."""
from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from bosun_local.client import ServiceError, tar_directory
from bosun_local.contracts import labels
from bosun_local.engine import adapter

from .helpers import Service, start, unique, write_classifier, write_package


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _upload(service: Service, archive: bytes, filename: str = "pkg.tar.gz") -> httpx.Response:
    return httpx.post(f"{service.url}/api/v1/packages", headers={"Authorization": f"Bearer {service.token}"},
                      files={"archive": (filename, archive, "application/gzip")}, timeout=60)


def _package_members(package_dir: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    return [_file(p.name, p.read_bytes()) for p in sorted(package_dir.iterdir())]


def test_register_directory_with_baseline(service: Service, package_dir: Path, diabetes_frame: pd.DataFrame) -> None:
    name = unique("diabetes")
    package = service.client.register_package(package_dir, name=name)
    assert package["name"] == name and package["targetType"] == "regression"
    assert package["hasBaseline"] and package["trainingData"] == "training.csv"
    assert [f["name"] for f in package["features"]] == [c for c in diabetes_frame.columns if c != "y"]
    stored = Path(package["path"])
    assert stored == service.home.resolve() / "packages" / package["id"]
    assert (stored / "model.pkl").read_bytes() == (package_dir / "model.pkl").read_bytes()
    # Immutable: files are read-only for everybody.
    assert stat.S_IMODE(os.stat(stored / "model.yaml").st_mode) == 0o444
    assert service.client.get_package(name)["id"] == package["id"]
    assert any(p["id"] == package["id"] for p in service.client.list_packages())

    baseline = service.client.package_baseline(package["id"])
    bmi = diabetes_frame["bmi"].to_numpy()
    expected_edges = np.unique(np.quantile(bmi, np.linspace(0, 1, 11)[1:-1]))
    assert baseline["features"]["bmi"]["edges"] == pytest.approx(expected_edges.tolist())
    counts = np.bincount(np.searchsorted(expected_edges, bmi, side="right"), minlength=len(expected_edges) + 1)
    assert baseline["features"]["bmi"]["proportions"] == pytest.approx((counts / len(bmi)).tolist())
    assert baseline["prediction"]["type"] == "numeric"
    assert sum(baseline["prediction"]["proportions"]) == pytest.approx(1.0)


def test_register_archive_with_top_dir_and_separate_training(service: Service, tmp_path: Path,
                                                             diabetes_frame: pd.DataFrame) -> None:
    directory = write_package(tmp_path / "m", diabetes_frame, with_training=False)
    archive = tmp_path / "m.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(directory, arcname="m")
    csv = tmp_path / "train.csv"
    diabetes_frame.head(100).to_csv(csv, index=False)
    package = service.client.register_package(archive, training_data=csv)
    assert package["name"] == "diabetes"  # from model.yaml
    assert package["hasBaseline"] and package["trainingData"] == "training.csv"
    assert (Path(package["path"]) / "training.csv").read_text() == csv.read_text()


def test_register_without_training_has_no_baseline(service: Service, tmp_path: Path,
                                                   diabetes_frame: pd.DataFrame) -> None:
    package = service.client.register_package(write_package(tmp_path / "n", diabetes_frame, with_training=False),
                                              name=unique("nobase"))
    assert not package["hasBaseline"]
    with pytest.raises(ServiceError) as err:
        service.client.package_baseline(package["id"])
    assert err.value.status_code == 404 and "has no training data" in err.value.message


def test_classification_baseline_uses_class_names(service: Service, tmp_path: Path) -> None:
    package = service.client.register_package(write_classifier(tmp_path / "c"), name=unique("clf"))
    baseline = service.client.package_baseline(package["id"])
    assert baseline["prediction"] == {"type": "categorical", "categories": ["no", "yes"],
                                      "proportions": pytest.approx([0.75, 0.25, 0.0])}
    color = baseline["features"]["color"]
    assert color["categories"][0] == "red" and sorted(color["categories"]) == ["blue", "green", "red"]
    assert color["proportions"] == pytest.approx([0.5, 0.25, 0.25, 0.0])


@pytest.mark.parametrize("drop, problem", [
    ("model.pkl", "has no model file"),
    ("model.yaml", "has no model.yaml"),
])
def test_missing_files_refused(service: Service, package_dir: Path, drop: str, problem: str) -> None:
    members = [m for m in _package_members(package_dir) if m[0].name != drop]
    response = _upload(service, _tar(members))
    assert response.status_code == 422
    assert problem in response.json()["detail"] and "'pkg.tar.gz'" in response.json()["detail"]


def test_unreadable_yaml_refused(service: Service, package_dir: Path) -> None:
    members = [m for m in _package_members(package_dir) if m[0].name != "model.yaml"]
    members.append(_file("model.yaml", b"targetName: [unclosed\n"))
    response = _upload(service, _tar(members))
    assert response.status_code == 422 and "model.yaml line" in response.json()["detail"]
    assert "not valid YAML" in response.json()["detail"]


def test_features_missing_from_training_data(service: Service, package_dir: Path,
                                             diabetes_frame: pd.DataFrame) -> None:
    members = [m for m in _package_members(package_dir) if m[0].name != "training.csv"]
    members.append(_file("training.csv", diabetes_frame.drop(columns=["bmi", "s3"]).to_csv(index=False).encode()))
    response = _upload(service, _tar(members))
    assert response.status_code == 422
    assert "lacks feature column(s) named in model.yaml: bmi, s3" in response.json()["detail"]


def test_training_csv_unreadable(service: Service, package_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ServiceError) as err:
        service.client.register_package(package_dir, training_data=bad)
    assert err.value.status_code == 422 and "training data 'bad.csv'" in err.value.message


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/etc/evil.txt"])
def test_path_traversal_and_absolute_refused(service: Service, package_dir: Path, name: str) -> None:
    response = _upload(service, _tar([*_package_members(package_dir), _file(name, b"x")]))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert name in detail and ("escapes the package dir" in detail or "absolute path" in detail)
    assert not (service.home / "evil.txt").exists() and not (service.home / "packages" / "evil.txt").exists()


@pytest.mark.parametrize("kind, word", [(tarfile.SYMTYPE, "symlink"), (tarfile.LNKTYPE, "hardlink")])
def test_links_refused(service: Service, package_dir: Path, kind: bytes, word: str) -> None:
    link = tarfile.TarInfo("link.txt")
    link.type = kind
    link.linkname = "/etc/passwd"
    response = _upload(service, _tar([*_package_members(package_dir), (link, None)]))
    assert response.status_code == 422 and f"member 'link.txt' is a {word}" in response.json()["detail"]


def test_archive_over_size_limit(service: Service) -> None:
    # FAST_ENV sets the upload limit to 5 MB; random bytes do not compress.
    response = _upload(service, os.urandom(6 * 1024 * 1024))
    assert response.status_code == 413 and "larger than the limit of 5 MB" in response.json()["detail"]


def test_decompression_bomb_refused(service: Service, package_dir: Path) -> None:
    # 20 MB of zeros compress to ~20 KB, past the 8 MB unpacked limit of FAST_ENV.
    members = [*_package_members(package_dir), _file("zeros.bin", bytes(20 * 1024 * 1024))]
    archive = _tar(members)
    assert len(archive) < 1024 * 1024
    response = _upload(service, archive)
    assert response.status_code == 413 and "unpacks to more than 8 MB" in response.json()["detail"]


def test_not_an_archive(service: Service) -> None:
    response = _upload(service, b"this is not gzip")
    assert response.status_code == 422 and "is not a readable .tar.gz archive" in response.json()["detail"]


def test_upload_without_archive_field(service: Service) -> None:
    response = httpx.post(f"{service.url}/api/v1/packages", headers={"Authorization": f"Bearer {service.token}"},
                          data={"name": "x"})
    assert response.status_code == 422 and "archive: Field required" in response.json()["detail"]


def test_unknown_package(service: Service) -> None:
    with pytest.raises(ServiceError) as err:
        service.client.get_package("no-such-package")
    assert err.value.status_code == 404
    assert err.value.message == "package 'no-such-package' not found"
    assert err.value.fix == "list packages with `bosun-local packages list`"


def test_name_resolves_to_newest(service: Service, tmp_path: Path, diabetes_frame: pd.DataFrame) -> None:
    name = unique("versions")
    first = service.client.register_package(write_package(tmp_path / "v1", diabetes_frame), name=name)
    second = service.client.register_package(write_package(tmp_path / "v2", diabetes_frame), name=name)
    assert first["id"] != second["id"]
    assert service.client.get_package(name)["id"] == second["id"]
    assert service.client.get_package(first["id"])["id"] == first["id"]


def test_client_refuses_symlink_in_directory(tmp_path: Path, package_dir: Path) -> None:
    (package_dir / "link").symlink_to(package_dir / "model.pkl")
    from bosun_local.errors import BosunError

    with pytest.raises(BosunError, match="link is a symlink"):
        tar_directory(package_dir)


def test_package_code_runs_only_in_the_sandbox_check(stack_images: None, db_env: dict[str, str], package_dir: Path,
                                                     diabetes_frame: pd.DataFrame, tmp_path: Path) -> None:
    """The service never unpickles: a sandbox container loads and scores, the service validates what came back."""
    # A service of its own: the module's has every package of the other tests waiting for a check, each a container.
    with start(tmp_path / "home", env=db_env) as service:
        _check_in_sandbox(service, package_dir, diabetes_frame, tmp_path)


def _check_in_sandbox(service: Service, package_dir: Path, diabetes_frame: pd.DataFrame, tmp_path: Path) -> None:
    import shutil

    from bosun_local.config import load_config
    from bosun_local.sandbox.package_check import PackageChecker

    package = service.client.register_package(package_dir, name=unique("diabetes"))
    assert package["check"]["status"] == "pending"
    target_edges = np.unique(np.quantile(diabetes_frame["y"], np.linspace(0, 1, 11)[1:-1]))
    # Until the check ran, the prediction baseline is the target's (nothing of the package was executed).
    assert service.client.package_baseline(package["id"])["prediction"]["edges"] == pytest.approx(
        target_edges.tolist())
    broken_dir = shutil.copytree(package_dir, tmp_path / "broken")
    (broken_dir / "model.pkl").write_bytes(b"not a pickle")
    broken = service.client.register_package(broken_dir, name=unique("broken"))

    config = load_config(service.home)
    # A sandbox left behind by an agent that died mid-check is removed when the next agent starts; another
    # environment's is not touched.
    ours, other = f"bosun-sandbox-leftover-{unique('c')}", f"bosun-sandbox-leftover-{unique('c')}"
    leftovers = {config["dockerNetwork"]: ours, unique("other-net"): other}
    for net, name in leftovers.items():
        subprocess.run(["docker", "create", "--name", name, "--label", f"{labels.SANDBOX}=p", "--label",
                        f"{labels.NETWORK}={net}", "bosun-local/base:bookworm", "true"], check=True,
                       capture_output=True, timeout=60)
    try:
        checker = PackageChecker(service.client, config, "test-agent", timeout_sec=120)
        names = {c.name for c in adapter.containers_with_labels({labels.SANDBOX: "p"})}
        assert ours not in names and other in names, names
    finally:
        subprocess.run(["docker", "rm", "-f", *leftovers.values()], capture_output=True, timeout=60)
    assert checker.drain() == 2

    checked = service.client.get_package(package["id"])
    assert checked["check"]["status"] == "ok"
    prediction = service.client.package_baseline(package["id"])["prediction"]
    assert prediction["source"] == "model"
    model = pd.read_pickle(package_dir / "model.pkl")
    features = [c for c in diabetes_frame.columns if c != "y"]
    expected = np.unique(np.quantile(model.predict(diabetes_frame[features].to_numpy()), np.linspace(0, 1, 11)[1:-1]))
    assert prediction["edges"] == pytest.approx(expected.tolist())
    # The target is wider than the model's predictions: binning it would flag a healthy model as drifting.
    assert prediction["edges"] != pytest.approx(target_edges.tolist())

    # (A pickled dict is refused the same way, in tests/security/test_trust_boundaries.py.)
    for bad, words in ((broken, "UnpicklingError"),):
        check = service.client.get_package(bad["id"])["check"]
        assert check["status"] == "failed" and words in check["error"], check
        with pytest.raises(ServiceError) as err:
            service.client.create_deployment(name=unique("d"), package=bad["id"])
        assert err.value.status_code == 422 and "failed its load check" in err.value.message
        # The baseline stays the target's: nothing the failed package printed was used.
        assert "source" not in service.client.package_baseline(bad["id"])["prediction"]
