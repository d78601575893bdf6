"""Model package format: parse and validate `model.yaml` and find the model file."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bosun_local.configkit.yaml_file import parse_yaml
from bosun_local.errors import BosunError, ConfigError

SPEC_FILE = "model.yaml"
DRUM_SPEC_FILE = "model-metadata.yaml"  # DataRobot's custom-model metadata (DRUM), read when model.yaml is absent
# custom.py comes first: as in DRUM, its hooks apply even when an artifact sits beside it.
MODEL_FILES = ("custom.py", "model.pkl", "model.joblib")
TARGET_TYPES = ("regression", "binary", "multiclass", "unstructured")
FEATURE_TYPES = ("numeric", "categorical", "text")
# Bounds on what one package may declare; past them registration refuses at once instead of working for minutes.
MAX_SPEC_BYTES = 1 << 20
MAX_FEATURES = 100_000


class PackageError(BosunError):
    """A model package is invalid."""


@dataclass(frozen=True)
class Feature:
    """One input column of a model."""

    name: str
    type: str = "numeric"


@dataclass(frozen=True)
class PackageSpec:
    """The validated contents of a package's model.yaml."""

    directory: Path
    target_name: str
    target_type: str
    features: tuple[Feature, ...]
    model_file: str
    class_names: tuple[str, ...] = ()
    name: str | None = None
    training_data: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model_path(self) -> Path:
        return self.directory / self.model_file

    @property
    def training_path(self) -> Path | None:
        return self.directory / self.training_data if self.training_data else None

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def is_custom(self) -> bool:
        return self.model_file.endswith(".py")

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as model.yaml keys."""
        return {
            "name": self.name,
            "targetName": self.target_name,
            "targetType": self.target_type,
            "classNames": list(self.class_names),
            "features": [{"name": f.name, "type": f.type} for f in self.features],
            "modelFile": self.model_file,
            "trainingData": self.training_data,
        }


def _fail(directory: Path, problem: str, fix: str) -> PackageError:
    return PackageError(f"model package {directory}: {problem}", fix=fix)


def package_file(directory: Path, name: object, key: str) -> Path:
    """Return the file a model.yaml key names, confined to the package: no absolute path, `..` or link out.

    A package is untrusted input: a path that leaves it would let registration read the data dir's token or
    secrets (and the PPS serve a file it was never given).
    """
    fix = f"name a file inside the package directory in {key}, relative to it (like model.pkl)"
    if not isinstance(name, str) or not name.strip():
        raise _fail(directory, f"{key} in {SPEC_FILE} must be a file name, got {name!r}", fix)
    relative = Path(name)
    if relative.is_absolute() or name.startswith(("/", "\\")) or ".." in relative.parts:
        raise _fail(directory, f"{key} {name!r} points outside the package", fix)
    path = directory / relative
    walked = directory
    for part in relative.parts:
        walked = walked / part
        if walked.is_symlink():
            raise _fail(directory, f"{key} {name!r} goes through a symbolic link ({part})",
                        "replace the link with the file it points to")
    try:
        inside = path.resolve().is_relative_to(directory.resolve())
    except OSError:
        inside = False
    if not inside:
        raise _fail(directory, f"{key} {name!r} points outside the package", fix)
    return path


def load_spec(directory: Path | str) -> PackageSpec:
    """Read and validate the package in a directory; errors name the package, the key and the fix."""
    directory = Path(directory)
    spec_path = directory / SPEC_FILE
    if not directory.is_dir():
        raise _fail(directory, "is not a directory", "give the path of a model package directory")
    for name in (SPEC_FILE, DRUM_SPEC_FILE):
        if (directory / name).is_symlink():
            raise _fail(directory, f"{name} is a symbolic link", "replace the link with the file it points to")
    if not spec_path.is_file() and (directory / DRUM_SPEC_FILE).is_file():
        return _drum_spec(directory)
    if not spec_path.is_file():
        raise _fail(directory, f"has no {SPEC_FILE}", f"add {SPEC_FILE} with targetName, targetType and features "
                                                      f"(or DataRobot's {DRUM_SPEC_FILE})")
    try:
        if spec_path.stat().st_size > MAX_SPEC_BYTES:
            raise _fail(directory, f"{SPEC_FILE} is {spec_path.stat().st_size} bytes, over the limit of "
                                   f"{MAX_SPEC_BYTES} bytes", f"declare at most {MAX_FEATURES} features, tersely")
        text = spec_path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(directory, f"cannot read {SPEC_FILE}: {exc}", "check the file") from exc
    try:
        raw = parse_yaml(text, SPEC_FILE)
    except ConfigError as exc:
        problem = exc.message.replace(f"{SPEC_FILE}, line", f"{SPEC_FILE} line")
        raise _fail(directory, problem.replace(": invalid YAML:", " is not valid YAML:"),
                    "correct the YAML syntax") from exc
    if not isinstance(raw, dict):
        raise _fail(directory, f"{SPEC_FILE} must be a mapping", "write `key: value` lines")

    target_name = raw.get("targetName")
    if not isinstance(target_name, str) or not target_name:
        raise _fail(directory, f"{SPEC_FILE} has no targetName", "add `targetName: <target column>`")
    target_type = raw.get("targetType")
    if target_type not in TARGET_TYPES:
        raise _fail(directory, f"{SPEC_FILE} targetType {target_type!r} is not one of {', '.join(TARGET_TYPES)}",
                    "set targetType to regression, binary or multiclass")
    class_names = raw.get("classNames") or []
    if not isinstance(class_names, list):
        raise _fail(directory, f"{SPEC_FILE} classNames must be a list", "write classNames: [no, yes]")
    if target_type in ("binary", "multiclass") and len(class_names) < 2:
        raise _fail(directory, f"{SPEC_FILE} classNames needs at least 2 classes for a {target_type} target",
                    "list the classes in predict_proba column order")
    if target_type == "binary" and len(class_names) != 2:
        raise _fail(directory, f"{SPEC_FILE} a binary target needs exactly 2 classNames, got {len(class_names)}",
                    "use targetType multiclass or list two classes")

    features_raw = raw.get("features")
    # A custom.py model (DRUM's contract) takes whatever columns it is sent; everything else needs its feature list.
    open_schema = features_raw is None and (directory / "custom.py").is_file() and raw.get("modelFile") in (
        None, "custom.py")
    if target_type == "unstructured" and features_raw:
        raise _fail(directory, f"{SPEC_FILE} lists features for an unstructured model", "drop the features key")
    if open_schema or target_type == "unstructured":
        features_raw = []
    elif not isinstance(features_raw, list) or not features_raw:
        raise _fail(directory, f"{SPEC_FILE} has no features", "list features as `- {name: age, type: numeric}`")
    if len(features_raw) > MAX_FEATURES:
        raise _fail(directory, f"{SPEC_FILE} lists {len(features_raw)} features, over the limit of {MAX_FEATURES}",
                    "serve a model on fewer features (select or embed them before the model)")
    features: list[Feature] = []
    for i, item in enumerate(features_raw):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise _fail(directory, f"{SPEC_FILE} features[{i}] has no name", "write `- {name: age, type: numeric}`")
        ftype = item.get("type", "numeric")
        if ftype not in FEATURE_TYPES:
            raise _fail(directory, f"{SPEC_FILE} feature {item['name']!r} has type {ftype!r}",
                        f"use one of {', '.join(FEATURE_TYPES)}")
        features.append(Feature(item["name"], ftype))
    counts = Counter(f.name for f in features)  # not names.count(n) per name: linear in the feature count
    if len(counts) != len(features):
        dupes = sorted(n for n, c in counts.items() if c > 1)
        shown = ", ".join(dupes[:20]) + (f" and {len(dupes) - 20} more" if len(dupes) > 20 else "")
        raise _fail(directory, f"{SPEC_FILE} lists feature(s) twice: {shown}", "list each feature once")

    model_file = raw.get("modelFile")
    if model_file is None:
        model_file = next((m for m in MODEL_FILES if (directory / m).is_file() or (directory / m).is_symlink()), None)
        if model_file is None:
            raise _fail(directory, "has no model file",
                        f"expected one of {', '.join(MODEL_FILES)} or modelFile in {SPEC_FILE}")
        package_file(directory, model_file, "modelFile")
    elif not package_file(directory, model_file, "modelFile").is_file():
        raise _fail(directory, f"modelFile {model_file!r} named in {SPEC_FILE} does not exist",
                    "add the file or fix modelFile")

    training = raw.get("trainingData")
    if training is None and ((directory / "training.csv").is_file() or (directory / "training.csv").is_symlink()):
        training = "training.csv"
        package_file(directory, training, "trainingData")
    elif training is not None and not package_file(directory, training, "trainingData").is_file():
        raise _fail(directory, f"trainingData {training!r} named in {SPEC_FILE} does not exist",
                    "add the CSV or drop the key")

    known = {"name", "targetName", "targetType", "classNames", "features", "modelFile", "trainingData"}
    return PackageSpec(
        directory=directory,
        target_name=target_name,
        target_type=target_type,
        features=tuple(features),
        model_file=model_file,
        class_names=tuple(str(c) for c in class_names),
        name=raw.get("name"),
        training_data=training,
        extra={k: v for k, v in raw.items() if k not in known},
    )


def _drum_labels(directory: Path, inference: dict[str, Any], target_type: str) -> list[str]:
    """Return class names from DRUM metadata: [negative, positive] for binary, classLabels(File) for multiclass."""
    if target_type == "binary":
        labels: Any = [inference.get("negativeClassLabel"), inference.get("positiveClassLabel")]
        if any(label is None for label in labels):
            raise _fail(directory, f"{DRUM_SPEC_FILE} inferenceModel lacks positiveClassLabel/negativeClassLabel",
                        "add both labels under inferenceModel")
        return [str(label) for label in labels]
    if target_type == "multiclass":
        labels = inference.get("classLabels")
        labels_file = inference.get("classLabelsFile")
        if labels is None and labels_file is not None and package_file(directory, labels_file,
                                                                       "classLabelsFile").is_file():
            labels = [line.strip() for line in (directory / labels_file).read_text().splitlines() if line.strip()]
        if not isinstance(labels, list) or len(labels) < 2:
            raise _fail(directory, f"{DRUM_SPEC_FILE} inferenceModel lacks classLabels",
                        "list the classes under inferenceModel.classLabels")
        return [str(label) for label in labels]
    return []


def _drum_spec(directory: Path) -> PackageSpec:
    """Read DataRobot's model-metadata.yaml: target type, target name and class labels; the columns stay open."""
    path = directory / DRUM_SPEC_FILE
    try:
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise _fail(directory, f"{DRUM_SPEC_FILE} is over the limit of {MAX_SPEC_BYTES} bytes", "shorten it")
        raw = parse_yaml(path.read_text(), DRUM_SPEC_FILE)
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(directory, f"cannot read {DRUM_SPEC_FILE}: {exc}", "check the file") from exc
    except ConfigError as exc:
        raise _fail(directory, exc.message, "correct the YAML syntax") from exc
    if not isinstance(raw, dict):
        raise _fail(directory, f"{DRUM_SPEC_FILE} must be a mapping", "write `key: value` lines")
    target_type = raw.get("targetType")
    if target_type not in TARGET_TYPES:
        raise _fail(directory, f"{DRUM_SPEC_FILE} targetType {target_type!r} is not served here",
                    f"use one of {', '.join(TARGET_TYPES)}")
    inference = raw.get("inferenceModel") or {}
    if not isinstance(inference, dict):
        raise _fail(directory, f"{DRUM_SPEC_FILE} inferenceModel must be a mapping", "fix the YAML")
    if (directory / "custom.py").is_file():
        model_file = "custom.py"
    else:
        artifacts = sorted(p.name for p in directory.iterdir()
                           if (p.is_file() or p.is_symlink()) and p.suffix.lower() == ".pkl")
        if len(artifacts) != 1:
            raise _fail(directory, f"has {len(artifacts)} .pkl artifacts and no custom.py",
                        "keep exactly one .pkl file or add custom.py with load_model()")
        model_file = artifacts[0]
    package_file(directory, model_file, "the model artifact")
    training = "training.csv" if (directory / "training.csv").is_file() else None
    if training:
        package_file(directory, training, "training data")
    return PackageSpec(directory=directory, target_name=str(inference.get("targetName") or "Predictions"),
                       target_type=target_type, features=(), model_file=model_file,
                       class_names=tuple(_drum_labels(directory, inference, target_type)),
                       name=raw.get("name"), training_data=training, extra={"drumMetadata": True})
