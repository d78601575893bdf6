"""The names of DataRobot's `bosun.model_connector.constants` that plugins import (same values)."""
from __future__ import annotations

from bosun_local.plugins.framework.constants import ModelExecutionType


class ModelConnectorConstants:
    """Keys of the model connector's config (DataRobot fetches model packages with it)."""

    MODEL_CONNECTOR_CONFIG_KEY = "modelConnectorConfig"
    TMP_DIR_KEY = "scratchDir"
    DR_URL_KEY = "mlopsUrl"
    DR_TOKEN_ENV = "MLOPS_API_TOKEN"
    DR_TOKEN_KEY = "mlopsApiToken"
    MLOPS_AGENT_VERIFY_SSL = "MLOPS_AGENT_VERIFY_SSL"


class ModelPackageConstants:
    """Keys and values describing a model package: execution types and model formats."""

    MODEL_PACKAGE_ID_KEY = "id"
    MODEL_CONNECTOR_CONFIG_KEY = "modelConnectorConfig"
    MODEL_PACKAGE_KEY = "modelPackage"
    MODEL_NAME_KEY = "name"
    MODEL_ID_KEY = "modelId"
    MODEL_EXECUTION_TYPE_KEY = "modelExecutionType"
    MODEL_EXECUTION_DEDICATED = ModelExecutionType.DEDICATED
    MODEL_EXECUTION_CUSTOM_INFERENCE = ModelExecutionType.CUSTOM_INFERENCE_MODEL
    MODEL_EXECUTION_EXTERNAL = ModelExecutionType.EXTERNAL

    MODEL_FORMAT_KEY = "modelFormat"
    MODEL_FORMAT_MLPKG = "datarobot"
    MODEL_FORMAT_SCORING_CODE = "datarobotScoringCode"

    MODEL_DESCRIPTION_KEY = "modelDescription"
    MODEL_LOCATION_KEY = "location"
    MODEL_PREDICTION_EXPLANATIONS = "isPredictionExplanationsSupported"
