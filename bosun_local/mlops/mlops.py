"""MLOps: the reporting library's entry point, with datarobot-mlops' complete public surface.

    mlops = MLOps().set_deployment_id(dep).set_model_id(model).set_rabbitmq_spooler(url, "mlops").init()
    mlops.report_deployment_stats(len(rows), elapsed_ms)
    mlops.report_predictions_data(features_df=df, predictions=preds, association_ids=ids)
    mlops.shutdown()

An app written for datarobot-mlops changes only its import (`from bosun_local.mlops import MLOps`).
"""
from __future__ import annotations

import atexit
import logging
import time
from typing import Any

import orjson

from bosun_local.contracts import records
from bosun_local.errors import ConfigError
from bosun_local.mlops import config, payloads
from bosun_local.mlops.exceptions import DRAlreadyInitialized, DRApiException, DRConfigKeyNotFound
from bosun_local.mlops.reporting import Reporting
from bosun_local.mlops.setters import Setters
from bosun_local.spool import registry
from bosun_local.spool.buffer import RecordBuffer
from bosun_local.spool.channel import Channel
from bosun_local.spool.transport import MissingSpoolSetting

log = logging.getLogger("bosun_local.mlops")
# Spooled records are cut to this many rows unless MLOPS_FEATURE_DATA_ROWS_IN_ONE_MESSAGE says otherwise:
# datarobot-mlops divides each spool's message size limit by 10 KiB per row.
ROW_BYTES = 10240


# shutdown(0) gives up after this long without a record delivered.
STALL_SEC = 60.0


def _drain_while_progressing(buffer: RecordBuffer, stall_sec: float) -> None:
    """Wait until the buffer is empty or nothing was delivered for stall_sec."""
    last, since = buffer.delivered, time.monotonic()
    while buffer.pending and time.monotonic() - since < stall_sec:
        time.sleep(0.05)
        if buffer.delivered != last:
            last, since = buffer.delivered, time.monotonic()


class MLOpsNotInitializedError(DRApiException):
    """A report_* call came before init() or after shutdown()."""


class MissingSettingError(ConfigError, DRConfigKeyNotFound):
    """A setting the call needs is set nowhere."""


class MLOps(Setters, Reporting):
    """Reports deployment stats, predictions, aggregates, actuals, custom metrics and events to a spool."""

    def __init__(self) -> None:
        self._code: dict[str, Any] = {}
        self._feature_types: list[Any] | None = None
        self._auto_sampling_pct: float | None = None
        self._association_id_column_name: str | None = None
        self._initialized = False
        self.settings: config.Settings | None = None
        self.channel: Channel | None = None
        self._buffer: RecordBuffer | None = None
        self._async = True
        self._spooler: str | None = None

    # -- lifecycle --

    def init(self) -> MLOps:
        """Resolve the settings, open the channel and start delivering; raise on a bad or missing setting."""
        if self._initialized:
            raise DRAlreadyInitialized("MLOps library already initialized.", fix="call init() once per instance")
        settings = config.resolve(self._code)
        spooler = settings["MLOPS_SPOOLER_TYPE"]
        if spooler is None:
            raise MissingSettingError(
                "no spooler configured for the MLOps reporting library",
                fix="call set_rabbitmq_spooler()/set_filesystem_spooler() or set MLOPS_SPOOLER_TYPE",
            )
        if spooler in config.WITHOUT_TRANSPORT:
            raise ConfigError(f"the {spooler} spooler is not available in bosun-local",
                              fix="use the RABBITMQ, FILESYSTEM or SQS spooler (bosun-local agents read them)")
        if settings["MLOPS_SPOOLER_DATA_FORMAT"].upper() != "JSON":
            raise ConfigError(f"MLOPS_SPOOLER_DATA_FORMAT={settings['MLOPS_SPOOLER_DATA_FORMAT']} is not supported",
                              fix="use MLOPS_SPOOLER_DATA_FORMAT=JSON (the default)")
        self.settings = settings
        self._spooler = spooler
        self._async = settings["MLOPS_ASYNC_REPORTING"]
        self._buffer = RecordBuffer(settings["MLOPS_REPORT_QUEUE_MAX_SIZE"])
        self.channel = self._make_channel(settings)
        if self.channel is not None:
            self.channel.start(self._buffer)
        self._initialized = True
        atexit.register(self._at_exit)
        return self

    def _make_channel(self, settings: config.Settings) -> Channel | None:
        transport = registry.by_spooler_type(settings["MLOPS_SPOOLER_TYPE"], "MLOPS_SPOOLER_TYPE")
        try:
            return transport.writer(settings.values, settings["MLOPS_REPORT_BATCH_SIZE"])
        except MissingSpoolSetting as exc:
            raise MissingSettingError(exc.message, fix=exc.fix) from exc

    def _message_bytes(self) -> int:
        """Return the spool's message size limit (-1: none), as datarobot-mlops sizes its records."""
        if self._spooler is None:
            return -1
        return registry.by_spooler_type(self._spooler, "MLOPS_SPOOLER_TYPE").max_message_bytes or -1

    def _at_exit(self) -> None:
        if self.channel is not None:
            self.shutdown(timeout_sec=5)

    def shutdown(self, timeout_sec: float = 0) -> bool:
        """Deliver buffered records, then close; False if some were left undelivered.

        timeout_sec=0 waits as long as records keep being delivered (until STALL_SEC pass without progress).
        """
        atexit.unregister(self._at_exit)
        self._initialized = False
        channel, buffer = self.channel, self._buffer
        if channel is None or buffer is None:
            return True
        if timeout_sec <= 0:
            # datarobot-mlops' 0 means "as long as it takes"; a spool that stays down must not hang the app.
            _drain_while_progressing(buffer, STALL_SEC)
        ok = channel.close(timeout_sec if timeout_sec > 0 else (2.0 if buffer.pending else 10.0))
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

    # -- what Reporting needs --

    def _setting(self, name: str) -> Any:
        assert self.settings is not None
        return self.settings[name]

    def _ready(self) -> bool:
        """Raise unless initialized; return False when reporting is switched off (spooler NONE)."""
        if not self._initialized:
            raise MLOpsNotInitializedError("MLOps library is not initialized. Make sure to call `init()` function.",
                                           fix="call MLOps()...init() once at startup (and not after shutdown())")
        return self.channel is not None

    def _ids(self, deployment_id: str | None, model_id: str | None, need_model: bool = True) -> tuple[str, Any]:
        """Return the deployment and model a call reports for: its arguments, else the configured defaults."""
        dep = deployment_id or self._setting("MLOPS_DEPLOYMENT_ID")
        if dep is None:
            raise DRApiException("Config key 'DEPLOYMENT_ID' not found. Export as an environment variable or set "
                                 "programmatically.", fix="call set_deployment_id() or set MLOPS_DEPLOYMENT_ID")
        model = model_id or self._setting("MLOPS_MODEL_ID")
        if need_model and model is None:
            raise DRApiException("Config key 'MODEL_ID' not found. Export as an environment variable or set "
                                 "programmatically.", fix="call set_model_id() or set MLOPS_MODEL_ID")
        return dep, model

    def _rows_per_message(self) -> int:
        """Return the most rows one PREDICTIONS_DATA/ACTUALS_DATA record holds (-1: no limit)."""
        settings = self.settings
        assert settings is not None
        rows = settings["MLOPS_FEATURE_DATA_ROWS_IN_ONE_MESSAGE"]
        if settings.sources["MLOPS_FEATURE_DATA_ROWS_IN_ONE_MESSAGE"] == "default" or rows <= 0:
            limit = self._message_bytes()
            rows = limit // ROW_BYTES if limit > 0 else -1
        return min(rows, settings["MLOPS_PREDICTIONS_DATA_MAX_LINES_PER_CHUNK"])

    def _emit(self, data_type: str, data: dict[str, Any], deployment_id: str | None) -> None:
        """Split a record's data as datarobot-mlops does, encode each part and hand it to the channel."""
        parts = [data]
        if data_type == records.PREDICTIONS_DATA:
            parts = payloads.split_predictions(data, self._rows_per_message())
        elif data_type == records.ACTUALS_DATA:
            parts = _split_actuals(data, self._rows_per_message())
        elif data_type == records.CUSTOM_METRIC:
            parts = self._split_metric(data)
        for part in parts:
            self._submit(data_type, part, deployment_id)

    def _split_metric(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        limit = self._message_bytes()
        # 4 KiB for the envelope, as datarobot-mlops estimates it.
        if limit <= 0 or len(orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)) + 4096 <= limit:
            return [data]
        rows = self._setting("MLOPS_CUSTOM_METRIC_ROWS_IN_ONE_MESSAGE") or limit // 100
        buckets = data["buckets"]
        return [{"customMetricId": data["customMetricId"], "modelId": data["modelId"],
                 "buckets": buckets[i:i + rows]} for i in range(0, len(buckets), rows)]

    def _submit_many(self, data_type: str, parts: list[dict[str, Any]], deployment_id: str | None) -> None:
        """Encode records of one type and deployment and hand them to the buffer at once."""
        option = orjson.OPT_SERIALIZE_NUMPY
        self._submit_quoted(data_type, [
            orjson.dumps(orjson.dumps(data, default=records.json_default, option=option).decode()).decode()
            for data in parts], deployment_id)

    def _submit_quoted(self, data_type: str, quoted: list[str], deployment_id: str | None) -> None:
        """Wrap records' data (each already a quoted JSON string) in their headers and hand them to the buffer."""
        assert self._buffer is not None
        # The header differs only in its id: encode it once around a marker, then splice each id in. The line is
        # byte for byte what _submit writes ({"header": ..., "data": "<JSON text>"}, orjson, compact).
        head = orjson.dumps(records.make_header(_ID_MARK, deployment_id, data_type)).decode()
        before, after = head.split(_ID_MARK)
        lines = [f'{{"header":{before}{record_id}{after},"data":{text}}}'
                 for text, record_id in zip(quoted, records.new_record_ids(len(quoted)), strict=True)]
        self._buffer.put_many(lines)
        if not self._async and self.channel is not None:
            self.channel.write_through()

    def _submit(self, data_type: str, data: dict[str, Any], deployment_id: str | None) -> None:
        assert self._buffer is not None
        # orjson, as datarobot-mlops serializes: same bytes (NaN as null, compact, UTF-8 unescaped).
        data_text = orjson.dumps(data, default=records.json_default, option=orjson.OPT_SERIALIZE_NUMPY).decode()
        head = records.make_header(records.new_record_id(), deployment_id, data_type)
        self._buffer.put(orjson.dumps({"header": head, "data": data_text}).decode())
        if not self._async and self.channel is not None:
            self.channel.write_through()


_ID_MARK = "@record-id@"  # stands in for the id while the shared header is encoded


def _split_actuals(data: dict[str, Any], rows: int) -> list[dict[str, Any]]:
    actuals = data["actualsList"]
    if rows <= 0 or len(actuals) <= rows:
        return [data]
    head: dict[str, Any] = {k: data[k] for k in ("modelId", "batchId") if k in data}
    return [{**head, "actualsList": actuals[i:i + rows]} for i in range(0, len(actuals), rows)]
