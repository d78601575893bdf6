"""Registering model packages: safe unpack, spec validation, baseline, immutable copy in the data dir."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import BinaryIO

from bosun_local.contracts.names import name_problem
from bosun_local.model_package import PackageError, PackageSpec, load_spec
from bosun_local.service.api_errors import invalid, not_found
from bosun_local.service.archive import extract_archive, package_root, save_upload
from bosun_local.service.baseline import compute_baseline
from bosun_local.service.context import ServiceContext
from bosun_local.service.events import record_event
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import new_id, now_iso

MODEL_FORMATS = {".pkl": "pickle", ".joblib": "joblib", ".py": "custom"}


def model_format(spec: PackageSpec) -> str:
    """Return how the model file is loaded: pickle, joblib or custom."""
    return MODEL_FORMATS.get(Path(spec.model_file).suffix, "custom")


def _freeze(directory: Path) -> int:
    """Make every file read-only for all (packages are immutable; PPS containers read them) and return the size."""
    size = 0
    for root, dirs, files in os.walk(directory):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            path = os.path.join(root, name)
            os.chmod(path, 0o444)
            size += os.path.getsize(path)
    os.chmod(directory, 0o755)
    return size


def _clean_name(name: str | None, fallback: str) -> str:
    text = (name or "").strip() or fallback
    problem = name_problem(text, "package name")
    if problem:
        raise invalid(problem, "give --name letters, digits, spaces, '-', '_' or '.' (up to 100 characters), "
                               "not an id")
    return text


def register_package(ctx: ServiceContext, archive: BinaryIO, filename: str, name: str | None,
                     training: BinaryIO | None, training_name: str | None) -> Row:
    """Unpack and validate an uploaded package; store it under packages/<id>/ and return its record."""
    package_id = new_id()
    label = f"package archive {filename!r}"
    incoming = ctx.packages_dir / f".incoming-{package_id}"
    incoming.mkdir(parents=True)
    try:
        archive_path = incoming / "upload.tar.gz"
        save_upload(archive, archive_path, ctx.limits.max_package_bytes, label)
        extract_archive(archive_path, incoming / "unpacked", label, ctx.limits.max_unpacked_bytes,
                        ctx.limits.max_archive_members)
        archive_path.unlink()
        root = package_root(incoming / "unpacked")
        if training is not None:
            save_upload(training, root / "training.csv", ctx.limits.max_training_bytes,
                        f"training data {training_name or 'upload'!r}")
        try:
            spec = load_spec(root)
        except PackageError as exc:
            raise invalid(exc.message.replace(f"model package {root}", f"model package {filename!r}"),
                          exc.fix) from exc
        training_file = "training.csv" if training is not None else spec.training_data
        baseline = None
        if training_file:
            where = repr(training_name) if training is not None else f"{training_file!r} in {label}"
            baseline = compute_baseline(spec, root / training_file, where)
        # Named before the package moves in: a refused name leaves nothing behind.
        clean_name = _clean_name(name, spec.name or filename.removesuffix(".tar.gz").removesuffix(".tgz")
                                 or package_id)
        target = ctx.packages_dir / package_id
        root.rename(target)
        size = _freeze(target)
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
    record = {"id": package_id, "name": clean_name, **_spec_fields(spec),
              "trainingData": training_file, "hasBaseline": baseline is not None, "path": str(target.resolve()),
              "sizeBytes": size, "createdAt": now_iso(), "baseline": baseline,
              # An agent loads it in a sandbox container (package_checks.py); the service never runs package code.
              "check": {"status": "pending"}}
    ctx.storage.insert_package(record)
    record.pop("baseline")
    record_event(ctx, "package_registered", "info",
                 f"registered model package {record['name']} ({package_id}), {spec.target_type} on "
                 f"{len(spec.features)} features{', with baseline' if baseline else ''}",
                 data={"packageId": package_id})
    return record


def _spec_fields(spec: PackageSpec) -> Row:
    return {"targetName": spec.target_name, "targetType": spec.target_type, "classNames": list(spec.class_names),
            "features": [{"name": f.name, "type": f.type} for f in spec.features], "modelFile": spec.model_file,
            "modelFormat": model_format(spec)}


def resolve_package(ctx: ServiceContext, ref: str) -> Row:
    """Return a package by id, else the newest with that name; 404 otherwise."""
    package = ctx.storage.get_package(ref) or ctx.storage.find_package_by_name(ref)
    if package is None:
        raise not_found("package", ref, "packages list")
    return package
