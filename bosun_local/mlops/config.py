"""Reporting-library settings: datarobot-mlops names, environment variables over code, legacy names too."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bosun_local.configkit.env import Setting
from bosun_local.errors import ConfigError
from bosun_local.mlops.exceptions import DRInvalidValue, DRVarNotFound
from bosun_local.spool import registry, simple
from bosun_local.spool.filesystem.transport import FILESYSTEM as FILESYSTEM_TRANSPORT
from bosun_local.spool.rabbitmq.transport import RABBITMQ as RABBITMQ_TRANSPORT

FILESYSTEM = FILESYSTEM_TRANSPORT.spooler_type
RABBITMQ = RABBITMQ_TRANSPORT.spooler_type
STDOUT = simple.STDOUT.spooler_type
NONE = simple.NONE.spooler_type
MEMORY = simple.MEMORY.spooler_type
# datarobot-mlops spooler types bosun-local has no transport for yet: accepted as names, refused at init().
SQS, PUBSUB, KAFKA, API, ASYNC_MEMORY = "SQS", "PUBSUB", "KAFKA", "API", "ASYNC_MEMORY"
WITHOUT_TRANSPORT = tuple(n for n in (SQS, PUBSUB, KAFKA, API, ASYNC_MEMORY) if n not in registry.spooler_types())
SPOOLER_TYPES = (*registry.spooler_types(), *WITHOUT_TRANSPORT)


class UnknownSettingError(ConfigError, DRVarNotFound):
    """A channel-config or setting key names no known setting."""


class BadSettingError(ConfigError, DRInvalidValue):
    """A setting has a value of the wrong type or out of range."""


# The library's own settings; each spool transport adds the settings its writer reads (spool/registry.py).
LIBRARY_SETTINGS: tuple[Setting, ...] = (
    Setting("MLOPS_DEPLOYMENT_ID", str, None, "deployment the records report to"),
    Setting("MLOPS_MODEL_ID", str, None, "model the records report about"),
    Setting("MLOPS_SPOOLER_TYPE", str, None, ", ".join(SPOOLER_TYPES),
            legacy_names=("MLOPS_OUTPUT_TYPE",), aliases=("SPOOLER_TYPE",)),
    Setting("MLOPS_ASYNC_REPORTING", bool, True, "write from a background thread (report_* never waits)"),
    Setting("MLOPS_REPORT_QUEUE_MAX_SIZE", int, 100_000, "records buffered in memory while the channel is down",
            legacy_names=("MLOPS_SPOOLER_BUFFER_MAX_SIZE",), aliases=("BUFFER_SIZE",)),
    Setting("MLOPS_REPORT_BATCH_SIZE", int, 1000, "records written per batch by the background thread",
            aliases=("BATCH_SIZE",)),
    Setting("MLOPS_FEATURE_DATA_ROWS_IN_ONE_MESSAGE", int, 10_000, "rows per PREDICTIONS_DATA record"),
    Setting("MLOPS_CUSTOM_METRIC_ROWS_IN_ONE_MESSAGE", int, 0, "buckets per CUSTOM_METRIC record (0: by size)"),
    Setting("MLOPS_PREDICTIONS_DATA_MAX_LINES_PER_CHUNK", int, 10_000, "most rows in any PREDICTIONS_DATA record"),
    Setting("MLOPS_PREDICTIONS_DATA_MAX_CHUNKS", int, 10, "chunks per API request (API spooler)"),
    Setting("MLOPS_SPOOLER_DATA_FORMAT", str, "JSON", "record format of the FILESYSTEM spooler (JSON only)"),
    Setting("MLOPS_ASSOCIATION_ID_COLUMN_NAME", str, None, "column of features_df holding association ids"),
    Setting("MLOPS_FEATURE_TYPES_FILENAME", str, None, "JSON file of feature types for aggregated reporting"),
    Setting("MLOPS_FEATURE_TYPES_JSON", str, None, "feature types for aggregated reporting, as JSON text"),
    Setting("MLOPS_STATS_AGGREGATION_HISTOGRAM_BIN_COUNT", int, 10, "centroid histogram buckets per column"),
    Setting("MLOPS_STATS_AGGREGATION_DISTINCT_CATEGORY_COUNT", int, 10, "categories kept per categorical column"),
    Setting("MLOPS_STATS_AGGREGATION_SEGMENT_VALUE_COUNT", int, 10_000, "segment values kept per attribute"),
    Setting("MLOPS_STATS_AGGREGATION_SEGMENT_ATTRIBUTES", str, None, "comma-separated segment attribute columns"),
    Setting("MLOPS_STATS_AGGREGATION_PREDICTION_TS_COLUMN_NAME", str, None, "column holding prediction times"),
    Setting("MLOPS_STATS_AGGREGATION_PREDICTION_TS_COLUMN_FORMAT", str, None, "strftime format of that column"),
    Setting("MLOPS_STATS_AGGREGATION_AUTO_SAMPLING_PERCENTAGE", float, None, "percent of rows also sent raw"),
    Setting("MLOPS_PUBSUB_PROJECT_ID", str, None, "GCP project of the PUBSUB spooler"),
    Setting("MLOPS_PUBSUB_TOPIC_NAME", str, None, "topic of the PUBSUB spooler"),
    Setting("MLOPS_KAFKA_TOPIC_NAME", str, None, "topic of the KAFKA spooler"),
    Setting("MLOPS_KAFKA_BOOTSTRAP_SERVERS", str, None, "host:port list of the KAFKA spooler"),
    Setting("DATAROBOT_ENDPOINT", str, None, "service URL of the API spooler and the embedded agent",
            legacy_names=("MLOPS_SERVICE_URL",)),
    Setting("DATAROBOT_API_TOKEN", str, None, "API token of the API spooler and the embedded agent",
            legacy_names=("MLOPS_API_TOKEN",)),
    Setting("MLOPS_AGENT_VERIFY_SSL", bool, True, "verify the service's TLS certificate"),
    Setting("MLOPS_MONITORING_AGENT_JAR_PATH", str, None, "agent JAR of the embedded agent (unused here)"),
    Setting("MLOPS_SPOOLER_CONFIG_RECORD_DELIMITER", str, ";", "separator of set_channel_config entries"),
    Setting("MLOPS_SPOOLER_CONFIG_KEY_VALUE_SEPARATOR", str, "=", "separator of key and value in set_channel_config"),
)
KEYS: dict[str, Setting] = {s.name: s for s in (*LIBRARY_SETTINGS, *registry.settings())}

# Older names still read (environment and set_channel_config), newest first wins.
LEGACY_NAMES: dict[str, str] = {old: s.name for s in KEYS.values() for old in s.legacy_names}
_LEGACY_BY_NEW = {new: old for old, new in LEGACY_NAMES.items()}

# Short keys accepted by set_channel_config, besides full names and names without the MLOPS_ prefix.
_ALIASES = {alias: s.name for s in KEYS.values() for alias in s.aliases}


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
    if upper in WITHOUT_TRANSPORT:
        return upper
    try:
        return registry.by_spooler_type(upper, where).spooler_type
    except ConfigError as exc:
        raise BadSettingError(exc.message, fix=f"use one of {', '.join(SPOOLER_TYPES)}") from exc


def convert(name: str, value: Any, where: str | None) -> Any:
    """Return a value converted to the type of setting ``name``; raise BadSettingError naming ``where``."""
    if name == "MLOPS_SPOOLER_TYPE":
        return spooler_type(str(value), where or f"environment variable {name}")
    try:
        return KEYS[name].parse(value, where)
    except ConfigError as exc:
        raise BadSettingError(exc.message, fix=exc.fix) from exc


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
            values[name], sources[name] = convert(name, environ[name], None), "env"
        elif legacy and legacy in environ:
            values[name] = convert(name, environ[legacy], f"environment variable {legacy}")
            sources[name] = f"env {legacy}"
        elif code_values.get(name) is not None:
            values[name], sources[name] = code_values[name], "code"
        else:
            values[name], sources[name] = key.default, "default"
    return Settings(values, sources)
