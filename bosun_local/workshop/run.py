"""`workshop run`: tasks 2 to 4.6 of the workshop notes, then the managed deployment for contrast."""
from __future__ import annotations

import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bosun_local.client import ServiceClient
from bosun_local.config import Config
from bosun_local.contracts import labels, layout
from bosun_local.engine import adapter
from bosun_local.envstack.environment import EnvironmentStack
from bosun_local.errors import EngineError
from bosun_local.model_package import load_spec
from bosun_local.workshop import probe
from bosun_local.workshop.cleanup import delete_deployments
from bosun_local.workshop.layout import APP, INSTRUMENTED, AppStack, RunState, WorkshopDir, WorkshopError
from bosun_local.workshop.reporter import Reporter

LABEL = labels.WORKSHOP
TRAIN_TIMEOUT_SEC = 300
DEFAULT_DATA_DIR = layout.DEFAULT_DATA_DIR.expanduser()


@dataclass(frozen=True)
class RunOptions:
    """How many predictions to send and how long to wait for things to show."""

    count: int = 100
    stats_timeout_sec: float = 180.0
    app_timeout_sec: float = 120.0


class WorkshopRun:
    """One run of the workshop flow against the environment stack of a data dir."""

    def __init__(self, workshop: WorkshopDir, config: Config, options: RunOptions, reporter: Reporter) -> None:
        self.workshop = workshop
        self.config = config
        self.options = options
        self.report = reporter
        self.environment = EnvironmentStack(config)
        self.http = httpx.Client(timeout=30)
        self.state = RunState()
        self.stack: AppStack | None = None
        self.feature_names: list[str] = []
        self.instrumented_url = ""
        self.summary: dict[str, Any] = {"workshop": str(workshop.root), "count": options.count, "predictions": {}}

    # -- the flow --

    def run(self) -> dict[str, Any]:
        """Run every step; return the summary (predictions of each path, stats, URLs, timings)."""
        self.workshop.require()
        self.stack = self.workshop.app_stack()
        self._check_network()
        previous = self.workshop.load_state()
        self.state = RunState(data_dir=str(self.config.data_dir), project=self.stack.project,
                              images=previous.images, package_id=None, deployments=previous.deployments)
        try:
            self.train()
            self.plain_app()
            self.environment_up()
            with ServiceClient(config=self.config) as client:
                if self.state.deployments:
                    with self.report.step("previous", "    remove previous deployments"):
                        self.state.deployments = delete_deployments(client, self.state.deployments)
                        self.workshop.save_state(self.state)
                deployment = self.register(client)
                self.instrumented_app(deployment)
                self.send_predictions()
                self.wait_stats(client, deployment["id"])
                self.managed(client)
        finally:
            self.http.close()
            self.summary["timingsSec"] = self.report.timings
        self.summary["dashboardCommand"] = dashboard_command(self.config)
        return self.summary

    def _check_network(self) -> None:
        assert self.stack is not None
        if self.stack.network != self.config["dockerNetwork"]:
            raise WorkshopError(
                f"{self.workshop.compose_file} joins network {self.stack.network!r} but the environment stack of "
                f"{self.config.data_dir} runs on {self.config['dockerNetwork']!r}",
                fix="use the data dir the folder was made for (BOSUN_HOME), or re-run `bosun-local workshop init "
                    "DIR --force` with this one")

    def train(self) -> None:
        """Task 2: run model/model.py, which writes the package; validate it."""
        with self.report.step("train", "2   train the model"):
            try:
                done = subprocess.run([sys.executable, str(self.workshop.model_script), "--out",
                                       str(self.workshop.package_dir)], capture_output=True, text=True,
                                      timeout=TRAIN_TIMEOUT_SEC, cwd=self.workshop.model_script.parent)
            except subprocess.TimeoutExpired as exc:
                raise WorkshopError(f"{self.workshop.model_script} did not finish within {TRAIN_TIMEOUT_SEC} s",
                                    fix="run it by hand to see where it hangs") from exc
            if done.returncode != 0:
                raise WorkshopError(f"{self.workshop.model_script} failed (exit {done.returncode}):\n"
                                    f"{done.stderr.strip()[-2000:]}", fix="fix the script, then run again")
            spec = load_spec(self.workshop.package_dir)
            self.feature_names = spec.feature_names
            self.report.note(done.stdout.strip().splitlines()[0] if done.stdout.strip() else "trained")

    def _build(self, app: str) -> None:
        assert self.stack is not None
        image = self.stack.images[app]
        base = self.config["agentImage"]
        if not adapter.image_exists(base):
            raise EngineError(f"the runtime image {base} the apps are built on is missing",
                              fix="run `bosun-local images build`")

        def on_step(i: int, n: int, line: str) -> None:
            self.report.update(completed=i, total=n + 2, detail=line)

        adapter.build_image(self.workshop.root, image, labels={LABEL: self.stack.project},
                            dockerfile=self.workshop.dockerfile(app), build_args={"BASE_IMAGE": base},
                            on_step=on_step)
        if image not in self.state.images:
            self.state.images.append(image)
        self.workshop.save_state(self.state)

    def _start(self, app: str) -> str:
        """Start one app service and return the URL of its /predict on the host."""
        assert self.stack is not None
        port = self.stack.ports[app]
        holder = adapter.port_published_by(port)
        if holder and not holder.startswith(f"{self.stack.project}-{app}-"):
            raise WorkshopError(f"host port {port} for {app} is taken by container {holder}",
                                fix="stop that container, or init the folder with another --app-port / "
                                    "--instrumented-port")
        project = adapter.ComposeProject(self.stack.project, self.workshop.compose_file)
        project.up(wait=True, timeout=int(self.options.app_timeout_sec), services=[app])
        return f"http://127.0.0.1:{port}/predict"

    def plain_app(self) -> None:
        """Task 3: build and start the plain app, then curl the notes' row."""
        with self.report.step("plainApp", "3   plain app: build, start, curl"):
            self._build(APP)
            url = self._start(APP)
            value = probe.wait_prediction(self.http, url, probe.EXAMPLE_ROW, self.options.app_timeout_sec)
            self.summary["predictions"]["plainApp"] = value
            self.summary["plainAppUrl"] = url
            self.report.note(f"prediction {value:.4f} from {url}")

    def environment_up(self) -> None:
        """Tasks 4.2-4.5: make sure the environment stack (service, RabbitMQ, agents) runs and is healthy."""
        with self.report.step("environment", "4.2 environment stack up") as r:
            statuses = self.environment.status()
            if all(s.ok for s in statuses):
                r.note("already running")
            else:
                self.environment.up(wait=True, progress=lambda done, total, detail: r.update(done, total, detail))
            self.summary["environment"] = {s.service: f"{s.state}/{s.health}" for s in self.environment.status()}

    def register(self, client: ServiceClient) -> dict[str, Any]:
        """Task 4.1: register the package and create the external deployment the instrumented app reports to."""
        with self.report.step("register", "4.1 register, external deployment"):
            package = client.register_package(self.workshop.package_dir, name="diabetes")
            self.state.package_id = package["id"]
            created = client.create_deployment(package["id"], name=f"workshop-external-{secrets.token_hex(3)}",
                                               description="the workshop's instrumented app reports here",
                                               external=True)
            deployment = created["deployment"]
            self.state.deployments.append(deployment["id"])
            self.workshop.save_state(self.state)
            self.summary["packageId"] = package["id"]
            self.summary["externalDeployment"] = {"id": deployment["id"], "name": deployment["name"],
                                                  "modelId": deployment["modelId"]}
            self.report.note(f"deployment {deployment['id']}")
            return deployment

    def instrumented_app(self, deployment: dict[str, Any]) -> None:
        """Task 4.6: start the instrumented app on the stack's network with the ids and queue URL injected."""
        with self.report.step("instrumentedApp", "4.6 instrumented app: build, start"):
            self.workshop.write_env({"WORKSHOP_DEPLOYMENT_ID": deployment["id"],
                                     "WORKSHOP_MODEL_ID": deployment["modelId"],
                                     "WORKSHOP_RABBITMQ_URL": self.environment.rabbitmq_url(host_side=False)})
            self._build(INSTRUMENTED)
            self.instrumented_url = self._start(INSTRUMENTED)
            self.summary["instrumentedAppUrl"] = self.instrumented_url
            self.report.note(f"reports to {deployment['id']}; serves {self.instrumented_url}")

    def send_predictions(self) -> None:
        """Send N predictions to the instrumented app: the notes' row first, then training rows."""
        count = self.options.count
        with self.report.step("predictions", f"    send {count} predictions", total=count) as r:
            rows = probe.training_rows(self.workshop.package_dir, self.feature_names)
            for i, fields in enumerate(probe.request_rows(count, rows)):
                value = probe.predict(self.http, self.instrumented_url, fields)
                if i == 0:
                    self.summary["predictions"]["instrumentedApp"] = value
                r.update(completed=i + 1, detail=f"{i + 1} answered")

    def wait_stats(self, client: ServiceClient, deployment_id: str) -> None:
        """Wait until the service's stats count exactly the predictions sent (through RabbitMQ and the agent)."""
        count = self.options.count
        with self.report.step("stats", "    stats count them", total=count) as r:
            deadline = time.monotonic() + self.options.stats_timeout_sec
            while True:
                stats = client.stats(deployment_id)
                seen = int(stats.get("predictions") or 0)
                r.update(completed=min(seen, count), detail=f"{seen} of {count} counted")
                if seen == count:
                    break
                if seen > count:
                    raise WorkshopError(f"deployment {deployment_id} counts {seen} predictions, {count} were sent",
                                        fix="a record was counted twice: see the monitoring agent's log")
                if time.monotonic() >= deadline:
                    raise WorkshopError(
                        f"deployment {deployment_id} counts {seen} of {count} predictions after "
                        f"{self.options.stats_timeout_sec:g} s",
                        fix="check the monitoring agent (`bosun-local status`, its container log) and the RabbitMQ "
                            "queue; `docker compose logs app-instrumented` shows the app's reporting errors")
                time.sleep(1)
            self.summary["stats"] = stats

    def managed(self, client: ServiceClient) -> None:
        """Contrast: deploy the same package through the management agent and curl it behind traefik."""
        with self.report.step("managed", "    managed deployment via traefik") as r:
            assert self.state.package_id is not None
            created = client.create_deployment(self.state.package_id, name=f"workshop-managed-{secrets.token_hex(3)}",
                                               description="the workshop's package, run by the management agent")
            deployment = created["deployment"]
            self.state.deployments.append(deployment["id"])
            self.workshop.save_state(self.state)
            action = created.get("action")
            if action:
                finished = client.wait_for_action(action["id"], timeout=float(self.config["waitTimeoutSec"]),
                                                  on_poll=lambda a: r.note(f"action {a['type']}: {a['status']}"))
                if finished["status"] != "done":
                    raise WorkshopError(f"the management agent could not start deployment {deployment['id']}: "
                                        f"{finished.get('result') or finished}",
                                        fix=f"see `bosun-local events --deployment {deployment['id']}`")
            prefix = str(self.config["outfacingPredictionURLPrefix"]).rstrip("/")
            url = f"{prefix}/deployments/{deployment['id']}/predict"
            value = probe.wait_prediction(self.http, url, probe.EXAMPLE_ROW, self.options.app_timeout_sec)
            self.summary["predictions"]["managedDeployment"] = value
            self.summary["managedDeployment"] = {"id": deployment["id"], "name": deployment["name"],
                                                 "predictUrl": url,
                                                 "predictionUrl": client.get_deployment(deployment["id"]).get(
                                                     "predictionUrl")}
            r.note(f"prediction {value:.4f} from {url}")


def dashboard_command(config: Config) -> str:
    """Return the command that opens the dashboard on this data dir."""
    if config.data_dir == DEFAULT_DATA_DIR:
        return "bosun-local dashboard"
    return f"BOSUN_HOME={config.data_dir} bosun-local dashboard"


def run(directory: Path, config: Config, options: RunOptions, reporter: Reporter) -> dict[str, Any]:
    """Run the workshop flow in a folder written by `workshop init`."""
    return WorkshopRun(WorkshopDir(directory), config, options, reporter).run()
