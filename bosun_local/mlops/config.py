"""Reporting-library settings: datarobot-mlops names, environment variables over code, legacy names too."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bosun_local.errors import ConfigError
from bosun_local.mlops.exceptions import DRInvalidValue, DRVarNotFound

FILESYSTEM = "FILESYSTEM"
RABBITMQ = "RABBITMQ"
STDOUT = "STDOUT"
NONE = "NONE"
MEMORY = "MEMORY"
SQS, PUBSUB, KAFKA, API, ASYNC_MEMORY = "SQS", "PUBSUB", "KAFKA", "API", "ASYNC_MEMORY"
SPOOLER_TYPES = (FILESYSTEM, RABBITMQ, STDOUT, NONE, MEMORY, SQS, PUBSUB, KAFKA, API, ASYNC_MEMORY)
# Older datarobot-mlops releases used these spooler type names.
LEGACY_SPOOLER_TYPES = {"OUTPUT_DIR": FILESYSTEM, "RABBIT_MQ": RABBITMQ}


class UnknownSettingError(ConfigError, DRVarNotFound):
    """A channel-config or setting key names no known setting."""


class BadSettingError(ConfigError, DRInvalidValue):
    """A setting has a value of the wrong type or out of range."""


@dataclass(frozen=True)
class Key:
    """One setting: its environment variable name, type, default and meaning."""

    name: str
    type: type
    default: Any
    help: str


KEYS: dict[str, Key] = {
    k.name: k
    for k in (
        Key("MLOPS_DEPLOYMENT_ID", str, None, "deployment the records report to"),
        Key("MLOPS_MODEL_ID", str, None, "model the records report about"),
        Key("MLOPS_SPOOLER_TYPE", str, None, "FILESYSTEM, RABBITMQ, STDOUT, NONE or MEMORY"),
        Key("MLOPS_ASYNC_REPORTING", bool, True, "write from a background thread (report_* never waits)"),
        Key("MLOPS_FILESYSTEM_DIRECTORY", str, None, "spool directory of the FILESYSTEM spooler"),
        Key("MLOPS_FILESYSTEM_MAX_FILE_SIZE", int, 1 << 30, "bytes after which a spool file is rotated"),
        Key("MLOPS_FILESYSTEM_MAX_NUM_FILES", int, 10, "unconsumed spool files before the spool counts as full"),
        Key("MLOPS_FILESYSTEM_MAX_RECORDS_PER_FILE", int, 0, "records per spool file (0: no limit)"),
        Key("MLOPS_RABBITMQ_QUEUE_URL", str, None, "amqp://user:pass@host:5672/vhost of the RABBITMQ spooler"),
        Key("MLOPS_RABBITMQ_QUEUE_NAME", str, "mlops", "durable queue the records are published to"),
        Key("MLOPS_RABBITMQ_MAX_IN_FLIGHT", int, 1000, "published records awaiting a broker confirm"),
        Key("MLOPS_RABBITMQ_RECONNECT_MAX_SEC", float, 10.0, "longest wait between reconnect attempts"),
        Key("MLOPS_REPORT_QUEUE_MAX_SIZE", int, 100_000, "records buffered in memory while the channel is down"),
        Key("MLOPS_REPORT_BATCH_SIZE", int, 1000, "records written per batch by the background thread"),
        Key("MLOPS_FEATURE_DATA_ROWS_IN_ONE_MESSAGE", int, 10_000, "rows per PREDICTIONS_DATA record"),
        Key("MLOPS_CUSTOM_METRIC_ROWS_IN_ONE_MESSAGE", int, 0, "buckets per CUSTOM_METRIC record (0: by size)"),
        Key("MLOPS_PREDICTIONS_DATA_MAX_LINES_PER_CHUNK", int, 10_000, "most rows in any PREDICTIONS_DATA record"),
        Key("MLOPS_PREDICTIONS_DATA_MAX_CHUNKS", int, 10, "chunks per API request (API spooler)"),
        Key("MLOPS_SPOOLER_DATA_FORMAT", str, "JSON", "record format of the FILESYSTEM spooler (JSON only)"),
        Key("MLOPS_ASSOCIATION_ID_COLUMN_NAME", str, None, "column of features_df holding association ids"),
        Key("MLOPS_FEATURE_TYPES_FILENAME", str, None, "JSON file of feature types for aggregated reporting"),
        Key("MLOPS_FEATURE_TYPES_JSON", str, None, "feature types for aggregated reporting, as JSON text"),
        Key("MLOPS_STATS_AGGREGATION_HISTOGRAM_BIN_COUNT", int, 10, "centroid histogram buckets per column"),
        Key("MLOPS_STATS_AGGREGATION_DISTINCT_CATEGORY_COUNT", int, 10, "categories kept per categorical column"),
        Key("MLOPS_STATS_AGGREGATION_SEGMENT_VALUE_COUNT", int, 10_000, "segment values kept per attribute"),
        Key("MLOPS_STATS_AGGREGATION_SEGMENT_ATTRIBUTES", str, None, "comma-separated segment attribute columns"),
        Key("MLOPS_STATS_AGGREGATION_PREDICTION_TS_COLUMN_NAME", str, None, "column holding prediction times"),
        Key("MLOPS_STATS_AGGREGATION_PREDICTION_TS_COLUMN_FORMAT", str, None, "strftime format of that column"),
        Key("MLOPS_STATS_AGGREGATION_AUTO_SAMPLING_PERCENTAGE", float, None, "percent of rows also sent raw"),
        Key("MLOPS_RABBITMQ_SSL_CA_CERTIFICATE_PATH", str, None, "CA certificate for RabbitMQ TLS"),
        Key("MLOPS_RABBITMQ_SSL_CERTIFICATE_PATH", str, None, "client certificate for RabbitMQ mTLS"),
        Key("MLOPS_RABBITMQ_SSL_KEYFILE_PATH", str, None, "client key for RabbitMQ mTLS"),
        Key("MLOPS_RABBITMQ_SSL_TLS_VERSION", str, None, "TLS version for RabbitMQ (e.g. TLSv1.2)"),
        Key("MLOPS_SQS_QUEUE_URL", str, None, "queue URL of the SQS spooler"),
        Key("MLOPS_SQS_QUEUE_NAME", str, None, "queue name of the SQS spooler"),
        Key("MLOPS_PUBSUB_PROJECT_ID", str, None, "GCP project of the PUBSUB spooler"),
        Key("MLOPS_PUBSUB_TOPIC_NAME", str, None, "topic of the PUBSUB spooler"),
        Key("MLOPS_KAFKA_TOPIC_NAME", str, None, "topic of the KAFKA spooler"),
        Key("MLOPS_KAFKA_BOOTSTRAP_SERVERS", str, None, "host:port list of the KAFKA spooler"),
        Key("DATAROBOT_ENDPOINT", str, None, "service URL of the API spooler and the embedded agent"),
        Key("DATAROBOT_API_TOKEN", str, None, "API token of the API spooler and the embedded agent"),
        Key("MLOPS_AGENT_VERIFY_SSL", bool, True, "verify the service's TLS certificate"),
        Key("MLOPS_MONITORING_AGENT_JAR_PATH", str, None, "agent JAR of the embedded agent (unused here)"),
        Key("MLOPS_SPOOLER_CONFIG_RECORD_DELIMITER", str, ";", "separator of set_channel_config entries"),
        Key("MLOPS_SPOOLER_CONFIG_KEY_VALUE_SEPARATOR", str, "=", "separator of key and value in set_channel_config"),
    )
}

# Older names still read (environment and set_channel_config), newest first wins.
LEGACY_NAMES: dict[str, str] = {
    "MLOPS_OUTPUT_TYPE": "MLOPS_SPOOLER_TYPE",
    "MLOPS_SPOOLER_DIR_PATH": "MLOPS_FILESYSTEM_DIRECTORY",
    "MLOPS_SPOOLER_FILE_MAX_SIZE": "MLOPS_FILESYSTEM_MAX_FILE_SIZE",
    "MLOPS_SPOOLER_MAX_FILES": "MLOPS_FILESYSTEM_MAX_NUM_FILES",
    "MLOPS_RABBITMQ_URL": "MLOPS_RABBITMQ_QUEUE_URL",
    "MLOPS_SPOOLER_BUFFER_MAX_SIZE": "MLOPS_REPORT_QUEUE_MAX_SIZE",
    "MLOPS_SERVICE_URL": "DATAROBOT_ENDPOINT",
    "MLOPS_API_TOKEN": "DATAROBOT_API_TOKEN",
}
_LEGACY_BY_NEW = {new: old for old, new in LEGACY_NAMES.items()}

# Short keys accepted by set_channel_config, besides full names and names without the MLOPS_ prefix.
_ALIASES = {
    "SPOOLER_TYPE": "MLOPS_SPOOLER_TYPE",
    "DIRECTORY": "MLOPS_FILESYSTEM_DIRECTORY",
    "QUEUE_URL": "MLOPS_RABBITMQ_QUEUE_URL",
    "QUEUE_NAME": "MLOPS_RABBITMQ_QUEUE_NAME",
    "MAX_FILE_SIZE": "MLOPS_FILESYSTEM_MAX_FILE_SIZE",
    "MAX_NUM_FILES": "MLOPS_FILESYSTEM_MAX_NUM_FILES",
    "BUFFER_SIZE": "MLOPS_REPORT_QUEUE_MAX_SIZE",
    "BATCH_SIZE": "MLOPS_REPORT_BATCH_SIZE",
}


def canonical_name(key: str) -> str:
    """Return the setting a user-given key means (full, legacy, unprefixed or short); raise on unknown."""
    upper = key.strip().upper()
    for candidate in (upper, f"MLOPS_{upper}"):
        if candidate in KEYS:
            return candidate
        if candidate in LEGACY_NAMES:
            return LEGACY_NAMES[candidate]
    if upper in _ALIASES:
        return _ALIASES[upper]
    # datarobot-mlops accepts any unambiguous tail of a setting name ("max_file_size", "topic_name").
    tails = [name for name in KEYS if name.endswith(upper) and upper]
    if len(tails) == 1:
        return tails[0]
    raise UnknownSettingError(
        f"unknown reporting-library setting {key!r}",
        fix=f"use one of: {', '.join(sorted(KEYS))}",
    )


def spooler_type(value: str, where: str) -> str:
    """Return the canonical spooler type for a user-given name (legacy names accepted)."""
    upper = value.strip().upper()
    upper = LEGACY_SPOOLER_TYPES.get(upper, upper)
    if upper not in SPOOLER_TYPES:
        raise BadSettingError(
            f"{where}: unknown spooler type {value!r}", fix=f"use one of {', '.join(SPOOLER_TYPES)}"
        )
    return upper


def convert(name: str, value: Any, where: str) -> Any:
    """Return a value converted to the type of setting ``name``; raise ConfigError naming ``where``."""
    key = KEYS[name]
    if name == "MLOPS_SPOOLER_TYPE":
        return spooler_type(str(value), where)
    if not isinstance(value, str):
        if isinstance(value, key.type) or (key.type is float and isinstance(value, int)):
            return value
        raise BadSettingError(f"{where}: {name} must be a {key.type.__name__}, got {value!r}")
    text = value.strip()
    if key.type is bool:
        if text.lower() in ("true", "yes", "1", "on"):
            return True
        if text.lower() in ("false", "no", "0", "off", ""):
            return False
        raise BadSettingError(f"{where}: {name}={value!r} is not a boolean", fix="use true or false")
    if key.type in (int, float):
        try:
            number = key.type(text)
        except ValueError as exc:
            raise BadSettingError(
                f"{where}: {name}={value!r} is not a number", fix=f"use a value like {key.default}"
            ) from exc
        if number < 0:
            raise BadSettingError(f"{where}: {name}={value!r} is negative", fix=f"use a value like {key.default}")
        return number
    return value


def parse_channel_config(text: str, environ: Mapping[str, str] | None = None, record_delimiter: str = ";",
                         key_value_separator: str = "=") -> dict[str, Any]:
    """Parse ``"k=v;k=v"`` into canonical settings, as datarobot-mlops' set_channel_config does (env separators win)."""
    environ = os.environ if environ is None else environ
    record_sep = environ.get("MLOPS_SPOOLER_CONFIG_RECORD_DELIMITER") or record_delimiter
    kv_sep = environ.get("MLOPS_SPOOLER_CONFIG_KEY_VALUE_SEPARATOR") or key_value_separator
    values: dict[str, Any] = {}
    for entry in text.split(record_sep):
        if not entry.strip():
            continue
        if kv_sep not in entry:
            raise BadSettingError(
                f"channel config entry {entry!r} has no {kv_sep!r}",
                fix=f"write 'key{kv_sep}value' entries separated by {record_sep!r}",
            )
        key, value = entry.split(kv_sep, 1)
        name = canonical_name(key)
        values[name] = convert(name, value, f"channel config {key.strip()}")
    return values


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one MLOps instance."""

    values: dict[str, Any]
    sources: dict[str, str]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


def resolve(code_values: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Merge defaults < code (setters, set_channel_config) < legacy env names < env names."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, key in KEYS.items():
        legacy = _LEGACY_BY_NEW.get(name)
        if name in environ:
            values[name], sources[name] = convert(name, environ[name], f"environment variable {name}"), "env"
        elif legacy and legacy in environ:
            values[name] = convert(name, environ[legacy], f"environment variable {legacy}")
            sources[name] = f"env {legacy}"
        elif code_values.get(name) is not None:
            values[name], sources[name] = code_values[name], "code"
        else:
            values[name], sources[name] = key.default, "default"
    return Settings(values, sources)
