"""Request and response shapes of monitoring: ingest (figures, association ids, actuals), actuals upload, stats."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from bosun_local.contracts.record_bounds import MAX_COUNT
from bosun_local.service.models import EventStatus, Open, Strict

ActualValue = float | int | str | bool
MAX_ROWS = 1_000_000


class LatencySketchIn(Strict):
    """A latency sketch (bosun_local.contracts.latency wire form)."""

    relativeAccuracy: float
    bins: dict[str, int] = Field(default_factory=dict)
    zeroCount: int = Field(default=0, ge=0)
    count: int = Field(default=0, ge=0)
    sum: float = Field(default=0.0, ge=0)
    min: float | None = None
    max: float | None = None
    fromBuckets: bool = False


class AssociationsIn(Strict):
    """Association ids of a predictions record's rows and what was predicted for each, so actuals can join."""

    ids: list[str | int] = Field(max_length=MAX_ROWS)
    predictions: list[float | None] | None = Field(default=None, description="regression: one value per row")
    classNames: list[str] | None = None
    probabilities: list[list[float]] | None = Field(default=None, description="classification: one per class")
    labels: list[str | int | bool | None] | None = Field(default=None, description="classification, labels only")
    timestamp: str | None = Field(default=None, max_length=64, description="prediction time; default the minute")
    timestamps: list[str] | None = Field(default=None, description="per-row prediction times")


class ActualIn(Strict):
    """One actual (a label or a number) for the prediction made under an association id."""

    associationId: str | int = Field(description="the association id the prediction was reported with")
    actualValue: ActualValue
    timestamp: str | None = Field(default=None, max_length=64)
    wasActedOn: bool | None = None


class ActualColumnsIn(Strict):
    """Actuals as columns (one value per association id): the agent's form, far cheaper to check than rows."""

    associationIds: list[str | int] = Field(min_length=1, max_length=MAX_ROWS)
    actualValues: list[ActualValue]
    timestamps: list[str | None] | None = Field(default=None, description="per-actual times; default now")
    wasActedOn: list[bool | None] | None = None


RecordId = Annotated[str, Field(min_length=1, max_length=200)]


class RequestsIn(Strict):
    """Many DEPLOYMENT_STATS records of one deployment, model and minute as columns, one value per record.

    The service counts each record id once, so a record delivered again in another batch is left out exactly.
    """

    recordIds: list[RecordId] = Field(min_length=1, max_length=100000)
    predictions: list[Annotated[int, Field(ge=0, le=MAX_COUNT)]]
    executionTimeMs: list[Annotated[float, Field(ge=0, allow_inf_nan=False)]]
    userErrors: list[bool]
    systemErrors: list[bool]


class MetricBucketIn(Strict):
    timestamp: str = Field(min_length=1, max_length=64)
    value: float = Field(allow_inf_nan=False)


class CustomMetricIn(Strict):
    """Values of one custom metric (datarobot-mlops' report_deployment_metric / report_model_metric)."""

    metricId: str = Field(min_length=1, max_length=200)
    modelId: str | None = Field(default=None, max_length=200, description="null: a deployment metric")
    buckets: list[MetricBucketIn] = Field(min_length=1, max_length=100000)


class ReportedEventIn(Strict):
    """An event an app reported (datarobot-mlops' report_event); stored once as a deployment event."""

    type: str = Field(min_length=1, max_length=200)
    status: EventStatus
    message: str = Field(max_length=20000)
    orgId: str | None = Field(default=None, max_length=200)
    data: dict[str, Any] = Field(default_factory=dict)
    time: str | None = Field(default=None, max_length=64)


class IngestRecord(Strict):
    recordId: str = Field(min_length=1, max_length=200)
    deploymentId: str = Field(min_length=1, max_length=200)
    modelId: str = Field(min_length=1, max_length=200)
    minute: str = Field(min_length=1, max_length=64)
    kind: Literal["stats", "requests", "predictions", "actuals", "customMetric", "event"]
    predictions: int = Field(default=0, ge=0, le=MAX_COUNT)
    userErrors: int = Field(default=0, ge=0, le=MAX_COUNT)
    systemErrors: int = Field(default=0, ge=0, le=MAX_COUNT)
    executionTimeMs: float = Field(default=0, ge=0, allow_inf_nan=False)
    latencySketch: LatencySketchIn | None = None
    latencyCounts: list[int] = Field(default_factory=list, description="before the sketch: fixed-bucket counts")
    rows: int = Field(default=0, ge=0, le=MAX_COUNT)
    predictionCounts: list[int] = Field(default_factory=list)
    featureCounts: dict[str, list[int]] = Field(default_factory=dict)
    predictionSum: float = Field(default=0.0, allow_inf_nan=False)
    associations: AssociationsIn | None = None
    actuals: list[ActualIn] | None = Field(default=None, max_length=MAX_ROWS)
    actualColumns: ActualColumnsIn | None = None
    requests: RequestsIn | None = Field(default=None, description="kind requests: DEPLOYMENT_STATS as columns")
    customMetric: CustomMetricIn | None = None
    event: ReportedEventIn | None = None


class IngestIn(Strict):
    records: list[IngestRecord] = Field(max_length=100000)


class IngestOut(Open):
    stored: int
    duplicates: int


class ActualsUploadIn(Strict):
    """Actuals of one deployment (DataRobot's actuals/fromJSON shape)."""

    data: list[ActualIn] = Field(min_length=1, max_length=MAX_ROWS)
    modelId: str | None = Field(default=None, max_length=200)


class ActualsUploadOut(Open):
    deploymentId: str
    received: int
    stored: int
    duplicates: int
    matched: int


class MetricValues(Open):
    prediction: float | None
    features: dict[str, float | None]


class DriftOut(Open):
    status: str
    metric: str = "psi"
    prediction: float | None
    features: dict[str, float | None]
    rows: int = 0
    psi: MetricValues | None = None
    jsd: MetricValues | None = None
    hellinger: MetricValues | None = None


class AccuracyOut(Open):
    targetType: str | None
    matched: int
    metrics: dict[str, float | None]
    metric: str | None
    status: str
    waitingActuals: int = 0


class SeriesPoint(Open):
    minute: str
    predictions: int
    errors: int
    latencyP50Ms: float | None
    latencyP95Ms: float | None


class StatsOut(Open):
    deploymentId: str
    window: int
    predictions: int
    userErrors: int
    systemErrors: int
    errorRate: float | None
    systemErrorRate: float | None = None
    userErrorRate: float | None = None
    latencyP50Ms: float | None
    latencyP95Ms: float | None
    latencyP99Ms: float | None
    latencyMinMs: float | None = None
    latencyMaxMs: float | None = None
    latencyMeanMs: float | None = None
    serviceHealth: str
    drift: DriftOut
    accuracy: AccuracyOut | None = None
    series: list[SeriesPoint]
    customMetrics: list[dict[str, Any]] = Field(default_factory=list)
    reportedEvents: dict[str, int] = Field(default_factory=dict)


def ingest_extra(record: IngestRecord) -> dict[str, Any]:
    """Return a record as the plain dict storage takes (nested models dumped, absent parts left out)."""
    return record.model_dump(exclude_none=True)
