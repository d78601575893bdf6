"""model.yaml paths stay inside the package: no absolute path, no `..`, no symbolic link out."""
from __future__ import annotations

from pathlib import Path

import pytest

from bosun_local.model_package import PackageError, load_spec

SPEC = "targetName: y\ntargetType: regression\nfeatures: [a]\n"


def _package(tmp_path: Path, extra: str = "") -> Path:
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "model.pkl").write_bytes(b"not read here")
    (root / "model.yaml").write_text(SPEC + extra)
    return root


@pytest.mark.parametrize("extra, words", [
    ("modelFile: /etc/passwd\n", "points outside the package"),
    ("modelFile: ../model.pkl\n", "points outside the package"),
    ("trainingData: ../../../../token\n", "points outside the package"),
    ("trainingData: sub/../../secrets.yml\n", "points outside the package"),
    ("modelFile: [a]\n", "must be a file name"),
])
def test_paths_out_of_the_package_are_refused(tmp_path: Path, extra: str, words: str) -> None:
    root = _package(tmp_path, extra)
    (tmp_path / "token").write_text("secret")
    with pytest.raises(PackageError) as err:
        load_spec(root)
    assert words in err.value.message and str(root) in err.value.message


def test_symlinks_out_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secrets.yml"
    secret.write_text("rabbitmqPassword: x\n")
    root = _package(tmp_path, "trainingData: data/train.csv\n")
    (root / "data").symlink_to(tmp_path)
    with pytest.raises(PackageError, match="symbolic link"):
        load_spec(root)
    (root / "data").unlink()
    (root / "training.csv").symlink_to(secret)
    (root / "model.yaml").write_text(SPEC)
    with pytest.raises(PackageError, match="symbolic link"):
        load_spec(root)
    (root / "training.csv").unlink()
    (root / "model.pkl").unlink()
    (root / "model.pkl").symlink_to(secret)
    with pytest.raises(PackageError, match="symbolic link"):
        load_spec(root)


def test_spec_file_link_is_refused(tmp_path: Path) -> None:
    root = _package(tmp_path)
    (tmp_path / "other.yaml").write_text(SPEC)
    (root / "model.yaml").unlink()
    (root / "model.yaml").symlink_to(tmp_path / "other.yaml")
    with pytest.raises(PackageError, match="model.yaml is a symbolic link"):
        load_spec(root)


def test_paths_inside_are_accepted(tmp_path: Path) -> None:
    root = _package(tmp_path, "trainingData: data/./train.csv\n")
    (root / "data").mkdir()
    (root / "data" / "train.csv").write_text("a,y\n1,2\n")
    spec = load_spec(root)
    assert spec.training_path == root / "data/./train.csv" and spec.model_file == "model.pkl"
