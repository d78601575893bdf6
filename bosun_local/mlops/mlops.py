"""MLOps: the reporting library's entry point, with the datarobot-mlops method names.

    mlops = MLOps().set_deployment_id(dep).set_model_id(model).set_rabbitmq_spooler(url, "mlops").init()
    mlops.report_deployment_stats(len(rows), elapsed_ms)
    mlops.report_predictions_data(features_df=df, predictions=preds, association_ids=ids)
    mlops.shutdown()
"""
from __future__ import annotations

import atexit
import logging
import math
from typing import Any

from bosun_local.contracts import records
from bosun_local.errors import BosunError, ConfigError
from bosun_local.mlops import config
from bosun_local.mlops.frames import (
    MLOpsInputError,
    normalize_association_ids,
    normalize_features,
    normalize_predictions,
)
from bosun_local.spool.buffer import RecordBuffer
from bosun_local.spool.channel import Channel
from bosun_local.spool.filesystem.writer import FilesystemChannel
from bosun_local.spool.simple import MemoryChannel, StdoutChannel

log = logging.getLogger("bosun_local.mlops")


class MLOpsNotInitializedError(BosunError):
    """A report_* call came before init() or after shutdown()."""


def _number(value: Any, name: str, minimum: float = 0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < minimum:
        raise MLOpsInputError(f"{name} must be a number >= {minimum:g}, got {value!r}", fix=f"pass {name} as a number")
    return value


class MLOps:
    """Reports deployment stats, predictions data and actuals to a spool, never blocking the app."""

    def __init__(self) -> None:
        self._code: dict[str, Any] = {}
        self.settings: config.Settings | None = None
        self.channel: Channel | None = None
        self._buffer: RecordBuffer | None = None
        self._deployment_id: str | None = None
        self._model_id: str | None = None
        self._async = True
        self._spooler: str | None = None  # set by init()

    # -- configuration (chained setters; environment variables win over these) --

    def _set(self, name: str, value: Any) -> MLOps:
        self._code[name] = config.convert(name, value, f"MLOps setting {name}")
        return self

    def set_deployment_id(self, deployment_id: str) -> MLOps:
        """Set the deployment the records report to (MLOPS_DEPLOYMENT_ID overrides)."""
        return self._set("MLOPS_DEPLOYMENT_ID", deployment_id)

    def set_model_id(self, model_id: str) -> MLOps:
        """Set the model the records report about (MLOPS_MODEL_ID overrides)."""
        return self._set("MLOPS_MODEL_ID", model_id)

    def set_filesystem_spooler(self, directory: str) -> MLOps:
        """Spool records as JSON lines into fs_spool.<N> files in directory."""
        self._set("MLOPS_SPOOLER_TYPE", config.FILESYSTEM)
        return self._set("MLOPS_FILESYSTEM_DIRECTORY", str(directory))

    def set_rabbitmq_spooler(self, queue_url: str, queue_name: str = "mlops") -> MLOps:
        """Publish records to a durable RabbitMQ queue (persistent messages, publisher confirms)."""
        self._set("MLOPS_SPOOLER_TYPE", config.RABBITMQ)
        self._set("MLOPS_RABBITMQ_QUEUE_URL", queue_url)
        return self._set("MLOPS_RABBITMQ_QUEUE_NAME", queue_name)

    def set_stdout_spooler(self) -> MLOps:
        """Print records to stdout, one per line."""
        return self._set("MLOPS_SPOOLER_TYPE", config.STDOUT)

    def set_no_spooler(self) -> MLOps:
        """Report nothing (report_* calls become no-ops)."""
        return self._set("MLOPS_SPOOLER_TYPE", config.NONE)

    def set_memory_spooler(self) -> MLOps:
        """Keep records in memory (``mlops.channel.records()``), for tests."""
        return self._set("MLOPS_SPOOLER_TYPE", config.MEMORY)

    def set_async_reporting(self, async_reporting: bool = True) -> MLOps:
        """Write from a background thread (default) or, when False, in the report_* call itself."""
        return self._set("MLOPS_ASYNC_REPORTING", bool(async_reporting))

    def set_channel_config(self, channel_config: str) -> MLOps:
        """Set several settings at once from ``"key=value;key=value"`` (names as the environment variables)."""
        self._code.update(config.parse_channel_config(channel_config))
        return self

    # -- lifecycle --

    def init(self) -> MLOps:
        """Resolve the settings, open the channel and start delivering; raise ConfigError on a bad setting."""
        if self.channel is not None:
            return self
        settings = config.resolve(self._code)
        spooler = settings["MLOPS_SPOOLER_TYPE"]
        if spooler is None:
            raise ConfigError(
                "no spooler configured for the MLOps reporting library",
                fix="call set_rabbitmq_spooler()/set_filesystem_spooler() or set MLOPS_SPOOLER_TYPE",
            )
        if spooler != config.NONE:
            for name, setter in (("MLOPS_DEPLOYMENT_ID", "set_deployment_id"), ("MLOPS_MODEL_ID", "set_model_id")):
                if not settings[name]:
                    raise ConfigError(
                        f"{name} is not set for the MLOps reporting library", fix=f"call {setter}() or set {name}"
                    )
        self.settings = settings
        self._spooler = spooler
        self._deployment_id = settings["MLOPS_DEPLOYMENT_ID"]
        self._model_id = settings["MLOPS_MODEL_ID"]
        self._async = settings["MLOPS_ASYNC_REPORTING"]
        self._buffer = RecordBuffer(settings["MLOPS_REPORT_QUEUE_MAX_SIZE"])
        self.channel = self._make_channel(settings)
        if self.channel is not None:
            self.channel.start(self._buffer)
        atexit.register(self._at_exit)
        return self

    def _make_channel(self, settings: config.Settings) -> Channel | None:
        spooler = settings["MLOPS_SPOOLER_TYPE"]
        batch = settings["MLOPS_REPORT_BATCH_SIZE"]
        if spooler == config.FILESYSTEM:
            directory = settings["MLOPS_FILESYSTEM_DIRECTORY"]
            if not directory:
                raise ConfigError(
                    "the FILESYSTEM spooler has no directory",
                    fix="call set_filesystem_spooler(directory) or set MLOPS_FILESYSTEM_DIRECTORY",
                )
            return FilesystemChannel(
                directory,
                settings["MLOPS_FILESYSTEM_MAX_FILE_SIZE"],
                settings["MLOPS_FILESYSTEM_MAX_NUM_FILES"],
                settings["MLOPS_FILESYSTEM_MAX_RECORDS_PER_FILE"],
                batch_size=batch,
            )
        if spooler == config.RABBITMQ:
            from bosun_local.spool.rabbitmq.writer import RabbitMQChannel

            url = settings["MLOPS_RABBITMQ_QUEUE_URL"]
            if not url:
                raise ConfigError(
                    "the RABBITMQ spooler has no queue URL",
                    fix="call set_rabbitmq_spooler(queue_url) or set MLOPS_RABBITMQ_QUEUE_URL (amqp://user:pass@host:5672/)",
                )
            return RabbitMQChannel(
                url,
                settings["MLOPS_RABBITMQ_QUEUE_NAME"],
                max_in_flight=settings["MLOPS_RABBITMQ_MAX_IN_FLIGHT"],
                reconnect_max_sec=settings["MLOPS_RABBITMQ_RECONNECT_MAX_SEC"],
            )
        if spooler == config.STDOUT:
            return StdoutChannel(batch_size=batch)
        if spooler == config.MEMORY:
            return MemoryChannel(batch_size=batch)
        return None

    def _at_exit(self) -> None:
        if self.channel is not None:
            self.shutdown(timeout_sec=5)

    def shutdown(self, timeout_sec: float = 10) -> bool:
        """Deliver buffered records (up to timeout_sec), then close; return False if some were left undelivered."""
        atexit.unregister(self._at_exit)
        channel, buffer = self.channel, self._buffer
        if channel is None or buffer is None:
            return True
        ok = channel.close(timeout_sec)
        left = buffer.pending
        if left:
            buffer.dropped += left
            log.error(
                "mlops shutdown: %d record(s) could not be delivered to the %s channel within %.0f s and are lost",
                left, self._spooler, timeout_sec,
            )
        self.channel = None
        return ok and not left

    # -- counters --

    @property
    def dropped_records(self) -> int:
        """Return records lost because the buffer overflowed (or was left undelivered at shutdown)."""
        return self._buffer.dropped if self._buffer else 0

    @property
    def pending_records(self) -> int:
        """Return records buffered but not yet confirmed delivered."""
        return self._buffer.pending if self._buffer else 0

    @property
    def delivered_records(self) -> int:
        """Return records the channel has written (or the broker confirmed)."""
        return self._buffer.delivered if self._buffer else 0

    # -- reporting --

    def _submit(self, data_type: str, data: dict[str, Any]) -> None:
        assert self._buffer is not None and self._deployment_id is not None
        line = records.encode(records.new_record_id(), self._deployment_id, data_type, data)
        self._buffer.put(line)
        if not self._async and self.channel is not None:
            self.channel.write_through()

    def _check_ready(self) -> bool:
        if self._spooler is None or (self.channel is None and self._spooler != config.NONE):
            raise MLOpsNotInitializedError(
                "MLOps reporting used before init() or after shutdown()", fix="call MLOps()...init() once at startup"
            )
        return self.channel is not None

    def report_deployment_stats(
        self, num_predictions: int, execution_time_ms: float, user_error: bool = False, system_error: bool = False
    ) -> None:
        """Report how many predictions a request made and how long it took."""
        if not self._check_ready():
            return
        if isinstance(num_predictions, bool) or not isinstance(num_predictions, int) or num_predictions < 0:
            raise MLOpsInputError(f"num_predictions must be an integer >= 0, got {num_predictions!r}")
        execution_time_ms = float(_number(execution_time_ms, "execution_time_ms"))
        data = records.deployment_stats_data(
            self._model_id or "", num_predictions, execution_time_ms, bool(user_error), bool(system_error)
        )
        self._submit(records.DEPLOYMENT_STATS, data)

    def report_predictions_data(
        self,
        features_df: Any = None,
        predictions: Any = None,
        association_ids: Any = None,
        class_names: list[str] | None = None,
    ) -> None:
        """Report the features and predictions of scored rows (split into records of at most N rows)."""
        if not self._check_ready():
            return
        features = normalize_features(features_df)
        preds, names = normalize_predictions(predictions, class_names)
        ids = normalize_association_ids(association_ids)
        lengths = {
            k: n
            for k, n in (
                ("features_df", len(next(iter(features.values()))) if features else None),
                ("predictions", len(preds) if preds is not None else None),
                ("association_ids", len(ids) if ids is not None else None),
            )
            if n is not None
        }
        if not lengths:
            raise MLOpsInputError(
                "report_predictions_data got neither features_df nor predictions", fix="pass at least one"
            )
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{k} has {n} rows" for k, n in lengths.items())
            raise MLOpsInputError(f"report_predictions_data: {detail}", fix="give every argument one entry per row")
        rows = next(iter(lengths.values()))
        step = max(1, self.settings["MLOPS_FEATURE_DATA_ROWS_IN_ONE_MESSAGE"]) if self.settings else rows or 1
        timestamp = records.format_timestamp()
        for start in range(0, max(rows, 1), step):
            end = start + step
            whole = start == 0 and end >= rows
            data: dict[str, Any] = {"timestamp": timestamp, "modelId": self._model_id}
            if features is not None:
                data["features"] = features if whole else {k: v[start:end] for k, v in features.items()}
            if preds is not None:
                data["predictions"] = preds if whole else preds[start:end]
                if names is not None:
                    data["classNames"] = names
            if ids is not None:
                data["associationIds"] = ids if whole else ids[start:end]
            self._submit(records.PREDICTIONS_DATA, data)

    def report_actuals(
        self,
        actuals: Any = None,
        *,
        association_ids: Any = None,
        actual_values: Any = None,
        was_acted_on: Any = None,
    ) -> None:
        """Report true outcomes, joined to predictions by association id.

        ``actuals`` may be a DataFrame or list of dicts with associationId/actualValue[/wasActedOn] (snake_case
        accepted), or pass ``association_ids`` and ``actual_values`` as lists.
        """
        if not self._check_ready():
            return
        if actuals is not None:
            columns = normalize_features(actuals) or {}
            pick = lambda *names: next((columns[n] for n in names if n in columns), None)  # noqa: E731
            association_ids = pick("associationId", "association_id")
            actual_values = pick("actualValue", "actual_value")
            was_acted_on = pick("wasActedOn", "was_acted_on")
        ids = normalize_association_ids(association_ids)
        if ids is None or actual_values is None:
            raise MLOpsInputError(
                "report_actuals needs association ids and actual values",
                fix="pass actuals=[{'associationId': ..., 'actualValue': ...}] or association_ids=, actual_values=",
            )
        values = actual_values.tolist() if hasattr(actual_values, "tolist") else list(actual_values)
        if len(values) != len(ids):
            raise MLOpsInputError(f"report_actuals: {len(values)} actual values for {len(ids)} association ids")
        data: dict[str, Any] = {
            "timestamp": records.format_timestamp(),
            "modelId": self._model_id,
            "associationIds": ids,
            "actualValues": values,
        }
        if was_acted_on is not None:
            acted = [bool(v) for v in (was_acted_on.tolist() if hasattr(was_acted_on, "tolist") else was_acted_on)]
            if len(acted) != len(ids):
                raise MLOpsInputError(f"report_actuals: {len(acted)} wasActedOn values for {len(ids)} association ids")
            data["wasActedOn"] = acted
        self._submit(records.ACTUALS, data)
