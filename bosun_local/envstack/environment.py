"""The environment stack (traefik, RabbitMQ, service, agents): render, up, wait, status, down."""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bosun_local.config import Config
from bosun_local.contracts import labels
from bosun_local.contracts.layout import DataDir
from bosun_local.contracts.liveness import healthcheck_test
from bosun_local.contracts.rabbitmq import amqp_url, masked_url
from bosun_local.engine import adapter
from bosun_local.envstack import prometheus_stack, readiness, sqs_stack
from bosun_local.envstack.render import env_file_text, render, write_if_changed
from bosun_local.errors import EngineError, UsageError
from bosun_local.host import IMAGE_UID, host_port, network_rabbitmq_url, rabbitmq_url, run_as_user, sqs_queue_url
from bosun_local.sandbox.package_check import remove_leftovers

Progress = Callable[[int, int, str], None]
DOCKER_SOCKET = Path("/var/run/docker.sock")
ALIVE_FILE_IN_CONTAINER = "/tmp/bosun-alive"  # matches BOSUN_ALIVE_FILE in templates/environment
ALIVE_MAX_AGE_SEC = 60
# One probe of a starting container by `up` or `status` (the templates' healthcheck timeout).
PROBE_TIMEOUT_SEC = 3.0
# The filtering Docker API proxy (bosun_local/docker_proxy): one socket per consumer, each in its own volume.
DOCKER_API_CONSUMERS = ("traefik", "agent")
DOCKER_PROXY_DIR = "/run/bosun-docker-proxy"  # in the proxy's container: <consumer>/docker.sock
DOCKER_SOCKET_DIR = "/run/bosun-docker"  # in a consumer's container
# Files of the data dir the agents' containers see as empty (they carry their own narrow tokens instead).
AGENT_HIDDEN_FILES = ("token", "tokens.json", "secrets.yml", "bosun.db", "bosun.db-wal", "bosun.db-shm")
RABBITMQ_USER_SCRIPT = (
    'rabbitmqctl -q authenticate_user "$MQ_USER" "$MQ_PASS" >/dev/null 2>&1 && exit 0; '
    'rabbitmqctl -q add_user "$MQ_USER" "$MQ_PASS" 2>/dev/null '
    '|| rabbitmqctl -q change_password "$MQ_USER" "$MQ_PASS"; '
    'rabbitmqctl -q set_permissions -p / "$MQ_USER" ".*" ".*" ".*" '
    '&& rabbitmqctl -q set_user_tags "$MQ_USER" administrator'
)


def stack_definition(name: str) -> dict[str, Any]:
    """Return a declarative stack definition from stacks/<name>.yml."""
    text = resources.files("bosun_local.stacks").joinpath(f"{name}.yml").read_text()
    return yaml.safe_load(text)


@dataclass(frozen=True)
class ServiceStatus:
    """One environment service as the user sees it."""

    service: str
    image: str
    state: str
    health: str
    container: str

    @property
    def ok(self) -> bool:
        return self.state == "running" and self.health in ("healthy", "none")


class EnvironmentStack:
    """The one environment stack of a data dir."""

    def __init__(self, config: Config, extras: list[str] | None = None) -> None:
        self.config = config
        self.definition = stack_definition("environment")
        # Optional services: asked for now (`up --with`), still running from an earlier `up --with`, or configured.
        configured = [prometheus_stack.PROMETHEUS] if config["prometheus"] else []
        self.extras = prometheus_stack.check_extras(
            [*(extras or []), *prometheus_stack.recorded_extras(self.compose_file.parent), *configured])

    @property
    def compose_file(self) -> Path:
        return self.config.stacks_dir / self.definition["directory"] / "compose.yaml"

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        """Return the services this config runs (the moto SQS server only for `spool: sqs` without sqsQueueUrl)."""
        local_sqs = str(self.config["spool"]).lower() == "sqs" and not self.config["sqsQueueUrl"]
        wanted = {"sqs": local_sqs, **{extra: extra in self.extras for extra in prometheus_stack.EXTRAS}}
        return {name: svc for name, svc in self.definition["services"].items()
                if svc.get("when") is None or wanted.get(svc["when"], False)}

    @property
    def monitoring_agent_config(self) -> Path:
        """Return the agent YAML of `spool: sqs` stacks: both channels, as seen from the stack's network."""
        return self.compose_file.parent / "monitoring-agent.yaml"

    @property
    def env_dir(self) -> Path:
        """Return the directory of the services' 0600 env files (their secrets, kept out of compose.yaml)."""
        return self.compose_file.parent / "env"

    def env_files(self) -> dict[str, dict[str, str]]:
        """Return each service's secret environment, by the env file's name."""
        secrets = self.config.secrets()
        network_url = network_rabbitmq_url(self.config)
        return {
            "rabbitmq": {"RABBITMQ_DEFAULT_USER": secrets["rabbitmqUser"],
                         "RABBITMQ_DEFAULT_PASS": secrets["rabbitmqPassword"]},
            "management-agent": {"BOSUN_RABBITMQ_URL": network_url,
                                 "BOSUN_SERVICE_TOKEN": self._agent_token("management-agent", "agent")},
            # MLOPS_API_TOKEN: the monitoring agent's own setting (DataRobot's name), read before the token file.
            "monitoring-agent": {"BOSUN_RABBITMQ_URL": network_url,
                                 "MLOPS_API_TOKEN": self._agent_token("monitoring-agent", "reporter")},
        }

    def _agent_token(self, name: str, scope: str) -> str:
        """Return the agent's own token (kept in its env file), creating it when missing or revoked."""
        from bosun_local.service.tokens import TokenStore

        store = TokenStore(self.config.data_dir)
        env_file = self.env_dir / f"{name}.env"
        if env_file.is_file():
            for line in env_file.read_text().splitlines():
                key, _, value = line.partition("=")
                token_keys = ("BOSUN_SERVICE_TOKEN", "MLOPS_API_TOKEN")
                record = store.lookup(value.strip("'").encode()) if key in token_keys else None
                if record is not None and record.name == name and record.scope == scope:
                    return value.strip("'")
        if any(r.name == name for r in store.records()):
            store.revoke(name)
        return store.create(name, scope)[1]

    def context(self) -> dict[str, Any]:
        """Return everything the template may use: config, the data dir, host ids (secrets stay in env files)."""
        user = run_as_user(self.config.data_dir)
        return {**self.config.values, "dataDir": str(self.config.data_dir), "envDir": str(self.env_dir),
                "agentHiddenFiles": AGENT_HIDDEN_FILES,
                "runAsUser": user, "runAsUid": user.split(":")[0], "runAsGid": user.split(":")[1],
                "dockerSocketGid": str(docker_socket_gid()), **docker_proxy_context(),
                "aliveHealthcheck": healthcheck_test(ALIVE_FILE_IN_CONTAINER, ALIVE_MAX_AGE_SEC),
                "probeInterval": f"{int(self.config['envProbeIntervalSec'])}s",
                "monitoringAgentConfig": str(self.monitoring_agent_config),
                "sqsNetworkQueueUrl": sqs_queue_url(self.config, host_side=False),
                "prometheus": prometheus_stack.PROMETHEUS in self.extras, **prometheus_stack.context(self)}

    def render(self) -> Path:
        """Render the compose file into the data dir (unchanged bytes are not rewritten)."""
        for name, env in self.env_files().items():
            write_if_changed(self.env_dir / f"{name}.env", env_file_text(env, f"secrets of {name}"))
        values = self.context()
        values["prometheusConfigHash"] = prometheus_stack.render_files(self, values) if values["prometheus"] else ""
        write_if_changed(self.compose_file, render(self.definition["template"], values))
        # traefik's file provider folder must exist before traefik mounts it (else Docker makes it, root-owned).
        self.config.traefik_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        if str(self.config["spool"]).lower() == "sqs":
            write_if_changed(self.monitoring_agent_config, sqs_stack.agent_yaml(self))
        return self.compose_file

    def project(self) -> adapter.ComposeProject:
        return adapter.ComposeProject(self.config["projectName"], self.compose_file)

    def images(self) -> dict[str, str]:
        """Return service -> image name."""
        return {name: self.config[svc["image"]] for name, svc in self.services.items()}

    def select(self, services: list[str] | None) -> list[str]:
        """Return the services to act on: all by default; unknown names are a usage error."""
        if not services:
            return list(self.services)
        unknown = [s for s in services if s not in self.services]
        if unknown:
            raise UsageError(f"unknown environment service(s): {', '.join(unknown)}",
                             fix=f"choose from {', '.join(self.services)}")
        return services

    def up(self, wait: bool = True, progress: Progress | None = None,
           services: list[str] | None = None) -> list[ServiceStatus]:
        """Start the stack (or some of its services); with wait, block until they are healthy."""
        chosen = self.select(services)
        images = self.images()
        missing = sorted({images[s] for s in chosen if not adapter.image_exists(images[s])})
        if missing:
            extras = "".join(f" --with {extra}" for extra in self.extras)
            raise EngineError(f"image(s) missing: {', '.join(missing)}",
                              fix=f"run `bosun-local images build{extras}` (or `make up`)")
        self.render()
        # Made here, as the data dir's owner: a bind-mount source Docker creates is root's.
        DataDir(self.config.data_dir).traefik_log_dir.mkdir(parents=True, exist_ok=True)
        adopt_traefik_log(self.config.data_dir)
        if prometheus_stack.PROMETHEUS in self.extras:
            prometheus_stack.ensure_reader_token(self)  # before prepare_data_dir hands files to the containers' user
        prepare_data_dir(self.config.data_dir)
        prometheus_stack.record_extras(self.compose_file.parent, self.extras)
        for name in AGENT_HIDDEN_FILES:
            # Each must exist before the agents start, or the engine would create it as root for the mask.
            path = self.config.data_dir / name
            if not path.exists():
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
                if os.geteuid() == 0 and self.config.data_dir.stat().st_uid != 0:
                    os.chown(path, self.config.data_dir.stat().st_uid, self.config.data_dir.stat().st_gid)
        needs = readiness.needs(self._rendered_services(), chosen)
        if not wait:
            self.project().up(wait=False, services=sorted(needs), dependencies=False)
            return self.status()
        statuses = self.wait_healthy(needs, progress)
        if "rabbitmq" in chosen:
            self.sync_rabbitmq_credentials(statuses)
        if "sqs" in chosen:
            sqs_stack.ensure_stack_queue(self.config)
        return statuses

    def sync_rabbitmq_credentials(self, statuses: list[ServiceStatus]) -> None:
        """Make the broker accept this data dir's credentials, even on a volume an older data dir initialised.

        RabbitMQ creates its default user only on an empty volume, so a new data dir (new secrets) with the
        old volume would be refused; setting the user here keeps `up` correct in every order of events.
        """
        container = next((s.container for s in statuses if s.service == "rabbitmq" and s.container), None)
        if container is None or self._rabbitmq_accepts_us():
            return
        secrets = self.config.secrets()
        adapter.exec_script(container, "setting the RabbitMQ user of this data dir", RABBITMQ_USER_SCRIPT,
                            {"MQ_USER": secrets["rabbitmqUser"], "MQ_PASS": secrets["rabbitmqPassword"]})

    def wait_healthy(self, needs: dict[str, list[str]], progress: Progress | None = None) -> list[ServiceStatus]:
        """Start each service of needs (service -> what it depends on) once those answer their own probes, and
        poll until all are running and healthy; fail fast on an exited container.

        Compose would start a service only when Docker's next probe of its dependencies (every
        envProbeIntervalSec) found them healthy; here each starts, without its dependencies, as soon as they answer.
        """
        deadline = time.monotonic() + float(self.config["waitTimeoutSec"])
        started: set[str] = set()
        ready: set[str] = set()
        while True:
            startable = sorted(n for n, deps in needs.items() if n not in started and set(deps) <= ready)
            if startable:
                self.project().up(wait=False, services=startable, dependencies=False)
                started.update(startable)
            statuses = [s for s in self.status(frozenset(ready)) if s.service in needs]
            ready = {s.service for s in statuses if s.ok and s.service in started}
            if progress:
                waiting = ", ".join(s.service for s in statuses if s.service not in ready) or "-"
                progress(len(ready), len(needs), f"waiting for: {waiting}")
            if len(ready) == len(needs):
                return statuses
            if any(set(deps) <= ready and n not in started for n, deps in needs.items()):
                continue  # something can start now: no sleep
            for s in statuses:
                if s.service in started and (s.state in ("exited", "dead")
                                             or s.health == "unhealthy" and time.monotonic() > deadline - 5):
                    logs = adapter.container_logs(s.container)
                    raise EngineError(f"environment service {s.service} is {s.state}/{s.health}; its log ends with:\n"
                                      f"{logs}", fix=f"fix the cause, then `bosun-local up` again "
                                      f"(full log: docker logs {s.container})")
            if time.monotonic() > deadline:
                raise EngineError(f"the environment stack was not healthy within {self.config['waitTimeoutSec']} s "
                                  f"(waiting for {', '.join(sorted(set(needs) - ready))})",
                                  fix="see `bosun-local status` and `docker logs <container>`; raise waitTimeoutSec")
            time.sleep(0.25)

    def status(self, ready: frozenset[str] = frozenset()) -> list[ServiceStatus]:
        """Return each defined service's state (missing ones as 'absent').

        A container Docker has not probed yet ('starting': its probes run every envProbeIntervalSec) is probed
        here, once, with its own healthcheck test: the answer it gives now is the state. ready: services whose
        probe already passed (up's wait), not probed again while they run.
        """
        if self.compose_file.exists():
            found = {c.labels.get(labels.COMPOSE_SERVICE, c.name): c for c in adapter.containers_with_labels(
                {labels.COMPOSE_PROJECT: str(self.config["projectName"])})}
            probes = readiness.probe_commands(self._rendered_services())
        else:
            found, probes = {}, {}
        starting = [n for n, c in found.items() if c.status == "running" and c.health == "starting" and n in probes]
        to_probe = [n for n in starting if n not in ready]
        with ThreadPoolExecutor(max_workers=max(1, len(to_probe))) as pool:
            answers = pool.map(lambda n: adapter.probe_passes(found[n].name, probes[n], PROBE_TIMEOUT_SEC), to_probe)
            passed = {**dict(zip(to_probe, answers, strict=True)), **{n: True for n in starting if n in ready}}
        result = []
        for name, image in self.images().items():
            c = found.get(name)
            if c is None:
                result.append(ServiceStatus(name, image, "absent", "none", ""))
                continue
            health = "healthy" if passed.get(name) else c.health or "none"
            result.append(ServiceStatus(name, image, c.status, health, c.name))
        return result

    def _rendered_services(self) -> dict[str, dict[str, Any]]:
        """Return the services of the rendered compose file (what compose runs, depends_on and healthchecks)."""
        return dict((yaml.safe_load(self.compose_file.read_text()) or {}).get("services") or {})

    def down(self, volumes: bool = False) -> list[str]:
        """Remove the stack's containers and networks, and the deployments' containers on its network.

        Deployments stay registered with their rendered stacks; the agent starts them again at the next `up`
        (reconcile). Their containers must go first: the network cannot be removed while they are attached.
        Returns the names of the deployment containers removed.
        """
        self.render()
        # The management agent goes first: running, it would heal the deployments removed next; and its watchdog
        # before it, which would start it again if it had to be killed.
        running = {s.service for s in self.status() if s.container}
        for healer in ("watchdog", "management-agent"):
            if healer in running:
                self.project().stop_services([healer])
        deployments = [c.name for c in adapter.containers_with_labels(
            {labels.DEPLOYMENT: None, labels.NETWORK: self.config["dockerNetwork"]})]
        # The shared PPS pool too (its deployments' dirs stay: the agent starts it again at the next up).
        deployments += [c.name for c in adapter.containers_with_labels(
            {labels.COMPONENT: labels.PPS_POOL, labels.NETWORK: self.config["dockerNetwork"]})]
        adapter.remove_containers(deployments, timeout=10)
        remove_leftovers(self.config)
        self.project().down(volumes=volumes, timeout=10)
        prometheus_stack.record_extras(self.compose_file.parent, [])
        return deployments

    def urls(self) -> dict[str, str]:
        """Return the URLs a user reaches the stack on."""
        urls = {"predictions": self.config["outfacingPredictionURLPrefix"], "service": self.config["serviceUrl"]}
        mq = self.config["rabbitmqPortMapping"]
        amqp, mgmt = host_port(mq[:1]), host_port(mq[1:2])
        secrets = self.config.secrets()
        if amqp:
            urls["rabbitmq"] = masked_url(amqp_url(secrets["rabbitmqUser"], secrets["rabbitmqPassword"], *amqp))
        if mgmt:
            urls["rabbitmqManagement"] = f"http://{mgmt[0]}:{mgmt[1]}/"
        if str(self.config["spool"]).lower() == "sqs":
            urls["sqsQueue"] = sqs_queue_url(self.config, host_side=True)
        prometheus = host_port(self.config["prometheusPortMapping"])
        if prometheus_stack.PROMETHEUS in self.extras and prometheus:
            urls["prometheus"] = f"http://{prometheus[0]}:{prometheus[1]}/"
        return urls

    def _rabbitmq_accepts_us(self) -> bool:
        """Return True if the published broker port takes this data dir's credentials."""
        return bool(self.config["rabbitmqPortMapping"]) and _amqp_login_ok(self.rabbitmq_url(host_side=True))

    def rabbitmq_url(self, host_side: bool = True) -> str:
        """Return the AMQP URL with credentials: rabbitmqUrl when set, else as seen from the host or the network."""
        return rabbitmq_url(self.config, host_side)


def _amqp_login_ok(url: str) -> bool:
    import pika  # a connection from the host takes ~50 ms; rabbitmqctl in the container takes seconds

    from bosun_local.spool.rabbitmq.writer import connection_parameters

    try:
        pika.BlockingConnection(connection_parameters(url)).close()
        return True
    except (pika.exceptions.AMQPError, OSError):
        return False


def prepare_data_dir(data_dir: Path) -> None:
    """Close the data dir to other users (0700) and hand a root-owned one to the containers' non-root user."""
    data_dir.chmod(0o700)
    if data_dir.stat().st_uid != 0 or os.geteuid() != 0:
        return
    for path in [data_dir, *data_dir.rglob("*")]:
        if not path.is_symlink():
            os.chown(path, IMAGE_UID, IMAGE_UID)


def adopt_traefik_log(data_dir: Path) -> None:
    """Give the data dir's owner traefik's log files a root traefik wrote (before it ran non-root), so it can write."""
    owner = data_dir.stat()
    for path in DataDir(data_dir).traefik_log_dir.iterdir():
        st = path.lstat()
        if not path.is_file() or path.is_symlink() or st.st_uid == owner.st_uid:
            continue
        if os.geteuid() == 0:
            os.chown(path, owner.st_uid, owner.st_gid)
            continue
        # Not root: a copy made by the owner replaces it (the folder is the owner's, so the rename is allowed).
        copy = path.with_name(path.name + ".adopt")
        copy.write_bytes(path.read_bytes())
        os.replace(copy, path)


def docker_proxy_context() -> dict[str, Any]:
    """Return the template values of the Docker API proxy: consumers, socket paths, its healthcheck."""
    sockets = [f"{DOCKER_PROXY_DIR}/{consumer}/docker.sock" for consumer in DOCKER_API_CONSUMERS]
    return {"dockerApiConsumers": list(DOCKER_API_CONSUMERS), "dockerProxyDir": DOCKER_PROXY_DIR,
            "dockerSocketDir": DOCKER_SOCKET_DIR, "dockerSocketInContainer": f"{DOCKER_SOCKET_DIR}/docker.sock",
            "dockerProxyHealthcheck": ["CMD", "bash", "-c", " && ".join(f"test -S {s}" for s in sockets)]}


def docker_socket_gid(socket_path: Path = DOCKER_SOCKET) -> int:
    """Return the group that owns the Docker socket (containers that drive Docker join it)."""
    try:
        return socket_path.stat().st_gid
    except OSError:
        return 0


def status_dicts(statuses: list[ServiceStatus]) -> list[dict[str, Any]]:
    """Return statuses as JSON-ready dicts."""
    return [{**asdict(s), "ok": s.ok} for s in statuses]
