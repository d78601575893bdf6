"""External events an app reports with MLOps.report_event(); the same class and event type names as datarobot-mlops."""
from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

EVENT_MESSAGE_MAX_LENGTH = 16384


class EventType(Enum):
    """Event types the monitoring side knows (values are DataRobot's event type strings)."""

    PRED_REQUEST_FAILED = "prediction_request.failed"
    DEP_ACCURACY_GREEN = "model_deployments.accuracy_green"
    DEP_ACCURACY_RED = "model_deployments.accuracy_red"
    DEP_ACCURACY_YELLOW = "model_deployments.accuracy_yellow_from_green"
    DEP_DRIFT_GREEN = "model_deployments.data_drift_green"
    DEP_DRIFT_RED = "model_deployments.data_drift_red"
    DEP_DRIFT_YELLOW = "model_deployments.data_drift_yellow_from_green"
    DEP_MODEL_REPLACED = "model_deployments.model_replacement"
    DEP_SERVICE_GREEN = "model_deployments.service_health_green"
    DEP_SERVICE_RED = "model_deployments.service_health_red"
    DEP_SERVICE_YELLOW = "model_deployments.service_health_yellow_from_green"
    EXTERNAL_NAN_PREDICTIONS = "externalNaNPredictions"


class Event:
    """One external event: type, message (cut to 16 KiB), deployment, organization and free-form data."""

    def __init__(self, event_type: EventType, message: str, entity_id: str | None = None,
                 org_id: str | None = None, data: dict[str, Any] | None = None) -> None:
        self._event_type = event_type.value
        # An empty message stays unset, as in datarobot-mlops (its record then has no usable message).
        if message:
            cut = EVENT_MESSAGE_MAX_LENGTH - 1
            self._message = message if len(message) < EVENT_MESSAGE_MAX_LENGTH else message[:cut]
        self._entity_id = entity_id
        self._org_id = org_id
        self._data = data
        # Local wall-clock time without a zone, exactly as the reference library stamps events.
        self._timestamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f%z")

    def get_event_type(self) -> str:
        """Return the event type string."""
        return self._event_type

    def get_message(self) -> str:
        """Return the message."""
        return self._message

    def get_entity_id(self) -> str | None:
        """Return the deployment the event is about."""
        return self._entity_id

    def get_org_id(self) -> str | None:
        """Return the organization id."""
        return self._org_id

    def get_data(self) -> dict[str, Any] | None:
        """Return the event's data."""
        return self._data

    def get_timestamp(self) -> str:
        """Return when the event was created."""
        return self._timestamp

    @staticmethod
    def is_entity_a_deployment() -> bool:
        """Return True: MLOps fills the entity id with the deployment id."""
        return True

    def set_entity_id(self, entity_id: str | None) -> None:
        """Set the deployment the event is about."""
        self._entity_id = entity_id


class ExternalNaNPredictionsEvent(Event):
    """The event report_predictions_data emits for NaN predictions it dropped."""

    def __init__(self, deployment_id: str, model_id: str | None, nan_prediction_indices: list[int]) -> None:
        message = "External NaN Predictions for indices: {}".format(", ".join(str(i) for i in nan_prediction_indices))
        super().__init__(EventType.EXTERNAL_NAN_PREDICTIONS, message, entity_id=deployment_id,
                         data={"modelId": str(model_id), "count": len(nan_prediction_indices)})
