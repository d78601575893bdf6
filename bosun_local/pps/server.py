"""Build the PPS app from settings and run it under uvicorn (graceful on SIGTERM)."""
from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from bosun_local.errors import BosunError, ConfigError
from bosun_local.pps.app import PPSApp
from bosun_local.pps.memory import MemoryBudget
from bosun_local.pps.model import load_package
from bosun_local.pps.registry import Deployment, MultiRegistry, SingleRegistry
from bosun_local.pps.report_process import ProcessSink
from bosun_local.pps.reporting import Reporter, ReportSink
from bosun_local.pps.settings import Settings, from_env

log = logging.getLogger("bosun_local.pps")
# Seconds an idle keep-alive connection stays open: above traefik's idle connection timeout (90 s).
KEEP_ALIVE_SEC = 120


def build_app(settings: Settings, make_sink: Callable[[], ReportSink] = ProcessSink) -> PPSApp:
    """Load the package (single mode) or prepare the base-dir watcher (multi mode) and the reporter."""
    if settings.multi:
        assert settings.multi_base_dir is not None
        if not settings.multi_base_dir.is_dir():
            raise ConfigError(f"multi-model base dir {settings.multi_base_dir} does not exist",
                              fix="create it or point PPS_MULTI_BASE_DIR / --multi-base-dir at the plugin's baseDir")
        registry: SingleRegistry | MultiRegistry = MultiRegistry(
            settings.multi_base_dir, settings.dir_prefix, settings.info_file, settings.watch_interval_sec,
            status_file=settings.status_file)
    else:
        started = time.monotonic()
        model = load_package(settings.model_dir)
        registry = SingleRegistry(Deployment(settings.deployment_id, settings.model_id, model, settings.model_dir,
                                             load_sec=time.monotonic() - started))
    reporter = None
    if settings.monitoring:
        if not settings.multi and not (settings.deployment_id and settings.model_id):
            raise ConfigError("monitoring is enabled but MLOPS_DEPLOYMENT_ID or MLOPS_MODEL_ID is not set",
                              fix="set both (the agent does), or MONITORING_ENABLED=0 to serve without reporting")
        if settings.multi and (settings.deployment_id or settings.model_id):
            # The reporting library lets these variables override the ids it is given, so every deployment of
            # this server would report as the one named in the environment.
            raise ConfigError("MLOPS_DEPLOYMENT_ID / MLOPS_MODEL_ID are set in multi-model mode",
                              fix="unset them: each deployment's ids come from its config.yml")
        reporter = Reporter(make_sink, settings.report_queue_size)
    return PPSApp(registry, reporter, settings.max_body_bytes, report_timeout_sec=settings.graceful_timeout_sec,
                  metrics=settings.metrics, memory=MemoryBudget.from_cgroup(settings.workers))


def app_from_env() -> PPSApp:
    """Return the app for one uvicorn worker process (settings come from the environment)."""
    return build_app(from_env())


def configure_logging() -> None:
    """Log to stderr with timestamps, once."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def serve(settings: Settings) -> None:
    """Run the server until SIGTERM/SIGINT; a package that does not load raises before the port is bound."""
    import uvicorn

    configure_logging()
    app = build_app(settings)
    mode = f"multi-model from {settings.multi_base_dir}" if settings.multi else f"model {settings.model_dir}"
    log.info("serving %s on %s:%d with %d worker(s), monitoring %s", mode, settings.host, settings.port,
             settings.workers, "on" if settings.monitoring else "off")
    common: dict[str, Any] = {
        "host": settings.host, "port": settings.port, "lifespan": "on", "access_log": settings.access_log,
        "log_level": "info", "server_header": False, "date_header": False,
        "timeout_graceful_shutdown": int(settings.graceful_timeout_sec),
        # Longer than traefik's idle connection timeout (90 s): the proxy closes an idle keep-alive connection first.
        # With uvicorn's 5 s, a request traefik sends on a connection the PPS is closing at that moment fails with
        # a 502 (not retried: it was written); seen when a scale-down moved the traffic onto one replica's pool.
        "timeout_keep_alive": KEEP_ALIVE_SEC,
    }
    # uvicorn re-raises SIGTERM once its graceful shutdown is done; a finished graceful shutdown is a success.
    signal.signal(signal.SIGTERM, _exit_ok)
    if settings.workers == 1:
        uvicorn.run(app, **common)
        _exit_now(0)
    # Each worker is a fresh process that builds its own app from the environment; the app built above only
    # proved that the package loads, so a broken one fails here rather than in every worker.
    os.environ.update(settings.to_env())
    uvicorn.run("bosun_local.pps.server:app_from_env", factory=True, workers=settings.workers, **common)


def _exit_ok(signum: int, frame: object) -> None:
    _exit_now(0)


def _exit_now(code: int) -> None:
    """Exit at once after a finished graceful shutdown: flush logs, skip the interpreter's teardown."""
    # The lifespan shutdown has flushed the monitoring reporter and joined its child; tearing down every module
    # and freeing the model's objects took ~0.3 s more, which every blue/green switch and scale-down waited for.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    """Entry point of `python -m bosun_local.pps`: single-model mode from env vars unless PPS_MULTI_BASE_DIR is set."""
    try:
        serve(from_env())
    except BosunError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.fix:
            print(f"  fix: {exc.fix}", file=sys.stderr)
        sys.exit(1)
