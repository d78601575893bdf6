"""MLOps' configuration calls (set_*, get_*), with datarobot-mlops' names, arguments, defaults and errors.

Every setter records a setting by its environment-variable name; at init() the environment wins over them.
"""
from __future__ import annotations

from typing import Any

from bosun_local import __version__
from bosun_local.mlops import aggregate, config
from bosun_local.mlops.exceptions import DRApiException


class Setters:
    """The chained configuration calls of MLOps (each returns the instance)."""

    _code: dict[str, Any]
    _feature_types: list[Any] | None
    _auto_sampling_pct: float | None
    _association_id_column_name: str | None
    _initialized: bool

    def _set(self, name: str, value: Any) -> Any:
        self._code[name] = config.convert(name, value, f"MLOps setting {name}")
        return self

    @staticmethod
    def _require(value: Any, field: str) -> None:
        if not value:
            raise DRApiException(f"{field} is empty.", fix=f"pass a non-empty {field}")

    @staticmethod
    def _positive(value: Any, field: str) -> None:
        if value <= 0:
            raise DRApiException(f"{field} needs to be a positive number.", fix=f"pass {field} > 0")

    @staticmethod
    def get_version() -> str:
        """Return the reporting library's version."""
        return __version__

    def agent(self, mlops_service_url: str | None = None, mlops_api_token: str | None = None,
              agent_jar_path: str | None = None, path_prefix: str | None = None, verify_ssl: bool = True) -> Any:
        """Refuse the embedded Java agent: bosun-local's monitoring agent runs beside the app instead."""
        raise DRApiException(
            "MLOps.agent() starts DataRobot's embedded Java agent, which bosun-local does not ship",
            fix="report through a spool (set_rabbitmq_spooler / set_filesystem_spooler) that a bosun-local "
                "monitoring agent reads (`bosun-local monitor run`)")

    # -- general --

    def set_deployment_id(self, deployment_id: str) -> Any:
        """Set the default deployment the records report to (MLOPS_DEPLOYMENT_ID overrides)."""
        self._require(deployment_id, "deployment_id")
        return self._set("MLOPS_DEPLOYMENT_ID", deployment_id)

    def set_model_id(self, model_id: str) -> Any:
        """Set the default model the records report about (MLOPS_MODEL_ID overrides)."""
        self._require(model_id, "model_id")
        return self._set("MLOPS_MODEL_ID", model_id)

    def set_async_reporting(self, async_reporting: bool = True) -> Any:
        """Write from a background thread (default) or, when False, in the report_* call itself."""
        return self._set("MLOPS_ASYNC_REPORTING", bool(async_reporting))

    def set_association_id_column_name(self, association_id_column_name: str) -> Any:
        """Set the features_df column holding association ids (MLOPS_ASSOCIATION_ID_COLUMN_NAME overrides)."""
        self._require(association_id_column_name, "association_id_column_name")
        self._association_id_column_name = association_id_column_name
        return self

    def get_association_id_column_name(self, association_id_column_name: str = "associationId") -> str:
        """Return the association id column in effect: environment, then the setter, then the argument."""
        env = config.resolve({}).values.get("MLOPS_ASSOCIATION_ID_COLUMN_NAME")
        return env or self._association_id_column_name or association_id_column_name

    @staticmethod
    def get_actual_map(association_id: Any, value: Any, acted_on: bool | None = None, timestamp: Any = None,
                       association_id_column_name: str | None = None) -> dict[str, Any]:
        """Return one actual as report_actuals takes it."""
        column = association_id_column_name or config.resolve({}).values.get(
            "MLOPS_ASSOCIATION_ID_COLUMN_NAME") or "associationId"
        actual: dict[str, Any] = {column: association_id, "actualValue": value}
        if acted_on is not None:
            actual["wasActedOn"] = acted_on
        if timestamp is not None:
            actual["timestamp"] = timestamp
        return actual

    # -- spoolers --

    def set_no_spooler(self) -> Any:
        """Report nothing (report_* calls become no-ops)."""
        return self._set("MLOPS_SPOOLER_TYPE", config.NONE)

    def set_stdout_spooler(self) -> Any:
        """Print records to stdout, one per line."""
        return self._set("MLOPS_SPOOLER_TYPE", config.STDOUT)

    def set_memory_spooler(self) -> Any:
        """Keep records in memory (``mlops.channel.records()``), for tests."""
        return self._set("MLOPS_SPOOLER_TYPE", config.MEMORY)

    def set_filesystem_spooler(self, directory: str) -> Any:
        """Spool records as JSON lines into fs_spool.<N> files in directory."""
        self._require(directory, "directory")
        self._set("MLOPS_SPOOLER_TYPE", config.FILESYSTEM)
        return self._set("MLOPS_FILESYSTEM_DIRECTORY", str(directory))

    def set_rabbitmq_spooler(self, queue_url: str, queue_name: str, ca_certificate_path: str | None = None,
                             certificate_path: str | None = None, keyfile_path: str | None = None,
                             tls_version: str | None = None) -> Any:
        """Publish records to a durable RabbitMQ queue (persistent messages, publisher confirms)."""
        self._require(queue_url, "queue_url")
        self._require(queue_name, "queue_name")
        self._set("MLOPS_SPOOLER_TYPE", config.RABBITMQ)
        self._set("MLOPS_RABBITMQ_QUEUE_URL", queue_url)
        self._set("MLOPS_RABBITMQ_QUEUE_NAME", queue_name)
        for name, value in (("MLOPS_RABBITMQ_SSL_CA_CERTIFICATE_PATH", ca_certificate_path),
                            ("MLOPS_RABBITMQ_SSL_CERTIFICATE_PATH", certificate_path),
                            ("MLOPS_RABBITMQ_SSL_KEYFILE_PATH", keyfile_path),
                            ("MLOPS_RABBITMQ_SSL_TLS_VERSION", tls_version)):
            if value:
                self._set(name, value)
        return self

    def set_sqs_spooler(self, queue: str) -> Any:
        """Send records to an AWS SQS queue, by URL (starts with http) or name."""
        self._require(queue, "queue_url")
        self._set("MLOPS_SQS_QUEUE_URL" if queue.startswith("http") else "MLOPS_SQS_QUEUE_NAME", queue)
        return self._set("MLOPS_SPOOLER_TYPE", config.SQS)

    def set_pubsub_spooler(self, project_id: str, topic_name: str) -> Any:
        """Send records to a Google Pub/Sub topic."""
        self._require(project_id, "project_id")
        self._require(topic_name, "topic_name")
        self._set("MLOPS_SPOOLER_TYPE", config.PUBSUB)
        self._set("MLOPS_PUBSUB_PROJECT_ID", project_id)
        return self._set("MLOPS_PUBSUB_TOPIC_NAME", topic_name)

    def set_kafka_spooler(self, topic_name: str, bootstrap_servers: str | None = None) -> Any:
        """Send records to a Kafka topic."""
        self._require(topic_name, "topic_name")
        self._set("MLOPS_SPOOLER_TYPE", config.KAFKA)
        self._set("MLOPS_KAFKA_TOPIC_NAME", topic_name)
        if bootstrap_servers:
            self._set("MLOPS_KAFKA_BOOTSTRAP_SERVERS", bootstrap_servers)
        return self

    def set_api_spooler(self, mlops_service_url: str | None = None, mlops_api_token: str | None = None) -> Any:
        """Send records straight to the service's API instead of a spool."""
        self._set("MLOPS_SPOOLER_TYPE", config.API)
        if mlops_service_url:
            self._set("DATAROBOT_ENDPOINT", mlops_service_url)
        if mlops_api_token:
            self._set("DATAROBOT_API_TOKEN", mlops_api_token)
        return self

    def set_channel_config(self, channel_config: str, record_delimiter: str = ";",
                           key_value_separator: str = "=") -> Any:
        """Set several settings at once from ``"key=value;key=value"`` (names as the environment variables)."""
        if channel_config:
            self._code.update(config.parse_channel_config(channel_config, None, record_delimiter,
                                                          key_value_separator))
        return self

    # -- prediction reporting --

    def set_feature_data_rows_in_one_message(self, rows: int) -> Any:
        """Set the most rows one PREDICTIONS_DATA (or ACTUALS_DATA) record carries."""
        self._positive(rows, "feature_data_rows_in_one_message")
        return self._set("MLOPS_FEATURE_DATA_ROWS_IN_ONE_MESSAGE", rows)

    def _check_feature_types_unset(self) -> None:
        if self._feature_types is not None:
            raise DRApiException("feature types is already set")
        if self._initialized:
            raise DRApiException("MLOps is already initialized, default features types cannot be modified")

    def set_feature_types(self, feature_types: list[dict[str, Any]]) -> Any:
        """Set the features' types ({"name", "feature_type", "format"?}) for report_aggregated_predictions_data."""
        self._check_feature_types_unset()
        aggregate.validate_feature_types(feature_types)
        self._feature_types = list(feature_types)
        return self

    def set_feature_types_filename(self, feature_type_filename: str) -> Any:
        """Set the feature types from a JSON file (see set_feature_types)."""
        self._check_feature_types_unset()
        self._require(feature_type_filename, "features_type_filename")
        with open(feature_type_filename, "rb") as f:
            self._feature_types = aggregate.load_feature_types(f.read().decode(), feature_type_filename)
        return self

    def set_feature_types_json(self, feature_type_json: str) -> Any:
        """Set the feature types from JSON text (see set_feature_types)."""
        self._check_feature_types_unset()
        self._require(feature_type_json, "feature_type_json")
        self._feature_types = aggregate.load_feature_types(feature_type_json, "feature_type_json")
        return self

    def set_segment_attributes(self, segment_attributes_column: str) -> Any:
        """Aggregate per value of these comma-separated columns too."""
        self._require(segment_attributes_column, "segment_attributes")
        return self._set("MLOPS_STATS_AGGREGATION_SEGMENT_ATTRIBUTES", segment_attributes_column)

    def set_prediction_timestamp_column(self, prediction_timestamp_column_name: str,
                                        prediction_timestamp_column_format: str) -> Any:
        """Aggregate per hour of this features_df column (historical predictions) instead of now."""
        self._require(prediction_timestamp_column_name, "prediction_timestamp_column_name")
        self._require(prediction_timestamp_column_format, "prediction_timestamp_column_format")
        self._set("MLOPS_STATS_AGGREGATION_PREDICTION_TS_COLUMN_NAME", prediction_timestamp_column_name)
        return self._set("MLOPS_STATS_AGGREGATION_PREDICTION_TS_COLUMN_FORMAT", prediction_timestamp_column_format)

    def set_auto_sampling_percentage(self, auto_sampling_pct: int | float) -> Any:
        """Also report this percent of aggregated rows (and actuals) raw, chosen by association-id hash."""
        self._auto_sampling_pct = validate_sampling_percentage(auto_sampling_pct)
        return self

    def set_histogram_bin_count(self, histogram_bin_count: int) -> Any:
        """Set the centroid histogram buckets per aggregated column (default 10)."""
        self._positive(histogram_bin_count, "histogram_bin_count")
        return self._set("MLOPS_STATS_AGGREGATION_HISTOGRAM_BIN_COUNT", histogram_bin_count)

    def set_distinct_category_count(self, distinct_category_count: int) -> Any:
        """Set how many categories per aggregated column are counted (default 10)."""
        self._positive(distinct_category_count, "distinct_category_count")
        return self._set("MLOPS_STATS_AGGREGATION_DISTINCT_CATEGORY_COUNT", distinct_category_count)

    def set_aggregation_max_records(self, aggregation_max_records: int) -> Any:
        """Do nothing (deprecated in datarobot-mlops: every call is aggregated and sent at once)."""
        return self

    def set_segment_value_per_attribute_count(self, segment_value_per_attribute_count: int) -> Any:
        """Set how many values per segment attribute are aggregated (default 10000)."""
        self._positive(segment_value_per_attribute_count, "segment_value_per_attribute_count")
        return self._set("MLOPS_STATS_AGGREGATION_SEGMENT_VALUE_COUNT", segment_value_per_attribute_count)


def validate_sampling_percentage(value: Any) -> float:
    """Return a sampling percentage as a float in [0, 100]; raise DRApiException otherwise."""
    if value is None:
        raise DRApiException("auto_sampling_pct is empty.")
    try:
        pct = float(value)
    except (ValueError, TypeError) as exc:
        raise DRApiException(f"auto_sampling_pct {value} is not a number") from exc
    if not 0.0 <= pct <= 100.0:
        raise DRApiException(f"Invalid value for auto sampling percentage {pct}.  Value should be between 0 to 100")
    return pct
