"""Request and response shapes of the API (they make the OpenAPI spec clients and schemathesis read)."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bosun_local.contracts.actions import QueuedActionName
from bosun_local.contracts.states import (
    DeploymentStateName,
    DesiredStateName,
    EventStatusName,
    HealthStatusName,
    QueueStatusName,
)
from bosun_local.plugins.framework.registry import ENTRY_POINT_GROUP, plugin_names
from bosun_local.service.long_poll import MAX_WAIT_SEC

WAIT_HELP = "when nothing is there yet, wait up to this many seconds for it (a long poll); 0 answers at once"

ActionType = QueuedActionName
EventStatus = EventStatusName
HealthStatus = HealthStatusName
ShortText = Field(default="", max_length=2000)


class Open(BaseModel):
    """A response object: documented fields, and more may follow."""

    model_config = ConfigDict(extra="allow")


class Strict(BaseModel):
    """A request body: unknown fields are refused so typos surface."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    """Every 4xx answer: a message naming the thing and the fix."""

    detail: str


# packages
class FeatureOut(Open):
    name: str
    type: str


class PackageOut(Open):
    id: str
    name: str
    targetName: str
    targetType: str
    classNames: list[str]
    features: list[FeatureOut]
    modelFile: str
    modelFormat: str
    trainingData: str | None
    hasBaseline: bool
    path: str
    sizeBytes: int
    createdAt: str
    check: PackageCheckOut | None = None


class PackageCheckOut(Open):
    """The sandboxed load check of a package: pending, running, ok or failed (with the loader's error)."""

    status: Literal["pending", "running", "ok", "failed"]
    error: str | None = None


class PackageCheckClaimIn(BaseModel):
    agentId: str = Field(min_length=1, max_length=200)
    waitSec: float = Field(default=0, ge=0, le=MAX_WAIT_SEC, description=WAIT_HELP)


class PackageCheckClaimOut(BaseModel):
    packageId: str
    path: str
    modelFile: str
    trainingData: str | None
    targetType: str


class PackageCheckResultIn(BaseModel):
    """What the sandbox printed: untrusted, validated before use."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    error: str | None = Field(default=None, max_length=100_000)
    predictions: list[Any] | None = None
    scoreError: str | None = Field(default=None, max_length=100_000)


class NumericBinsOut(Open):
    type: Literal["numeric"]
    edges: list[float]
    proportions: list[float]


class CategoricalBinsOut(Open):
    type: Literal["categorical"]
    categories: list[str]
    proportions: list[float]


BinsOut = Annotated[NumericBinsOut | CategoricalBinsOut, Field(discriminator="type")]


class BaselineOut(Open):
    features: dict[str, BinsOut]
    prediction: BinsOut | None


# environments
class EnvironmentIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    platform: str = Field(min_length=1, max_length=100, examples=["docker", "filesystem", "test"],
                          description="a registered plugin: built-in or from the bosun_local.plugins entry points")
    description: str = ShortText
    pluginConfig: dict[str, Any] = Field(default_factory=dict)
    command: str | None = Field(default=None, max_length=2000)

    @field_validator("platform")
    @classmethod
    def _registered(cls, value: str) -> str:
        """Accept any plugin the registry knows, so an installed third-party plugin needs no service change."""
        known = plugin_names()
        if value not in known:
            raise ValueError(f"{value!r} is not a registered plugin; known: {', '.join(known)} (install a plugin "
                             f"that registers in the {ENTRY_POINT_GROUP} entry-point group to add one)")
        return value


class EnvironmentPatch(Strict):
    description: str | None = Field(default=None, max_length=2000)
    pluginConfig: dict[str, Any] | None = None
    command: str | None = Field(default=None, max_length=2000)


class EnvironmentOut(Open):
    id: str
    name: str
    platform: str
    description: str
    pluginConfig: dict[str, Any]
    command: str | None
    isDefault: bool
    createdAt: str
    updatedAt: str


# deployments and actions
class DeploymentIn(Strict):
    packageId: str = Field(min_length=1, max_length=200, description="package id or name")
    name: str = Field(min_length=1, max_length=100)
    description: str = ShortText
    environmentId: str | None = Field(default=None, max_length=200, description="environment id or name")
    keyValueConfig: dict[str, Any] = Field(default_factory=dict)
    external: bool = False


class ReplaceModelIn(Strict):
    packageId: str = Field(min_length=1, max_length=200, description="package id or name")


class ScaleIn(Strict):
    replicas: int = Field(ge=1, le=64, description="champion containers to run (keyValueConfig replicas)")
    reason: str | None = Field(default=None, max_length=200, description="why (user, autoscale); in the event")
    detail: dict[str, Any] | None = Field(default=None, description="figures behind the decision (the autoscaler's)")


class RollbackIn(Strict):
    to: str | None = Field(default=None, max_length=200, description="package id or name; default the previous")


class ModelHistoryOut(Open):
    modelId: str
    packageName: str | None
    since: str
    until: str | None
    reason: str
    actionId: str | None
    current: bool


class DeploymentOut(Open):
    id: str
    name: str
    description: str
    environmentId: str
    packageId: str
    modelId: str
    keyValueConfig: dict[str, Any]
    state: str
    desiredState: DesiredStateName
    predictionUrl: str | None
    healthStatus: str
    external: bool
    createdAt: str
    updatedAt: str
    deletedAt: str | None = None


class StatusPatch(Strict):
    state: DeploymentStateName | None = None
    healthStatus: HealthStatus | None = None
    predictionUrl: str | None = Field(default=None, max_length=2000)
    message: str | None = Field(default=None, max_length=4000)


class ActionOut(Open):
    id: str
    deploymentId: str
    type: str
    status: QueueStatusName
    attempts: int
    leaseExpiresAt: str | None
    createdAt: str
    params: dict[str, Any]
    agentId: str | None = None
    result: dict[str, Any] | None = None


class ActionRequestOut(Open):
    deployment: DeploymentOut
    action: ActionOut | None
    coalesced: bool


class LeaseIn(Strict):
    agentId: str = Field(min_length=1, max_length=200)
    leaseSec: float = Field(default=60, gt=0, le=86400)


class ReleaseIn(Strict):
    agentId: str = Field(min_length=1, max_length=200)


class ClaimIn(LeaseIn):
    environmentId: str | None = Field(default=None, max_length=200,
                                      description="claim only actions of this environment (id or name)")
    waitSec: float = Field(default=0, ge=0, le=MAX_WAIT_SEC, description=WAIT_HELP)


class StatusInfoIn(BaseModel):
    """An ActionStatusInfo as the plugin returned it (status passing/warning/failing/unknown or OK/WARN/...)."""

    model_config = ConfigDict(extra="allow")
    status: str = Field(min_length=1, max_length=50)
    msg: str | None = None
    state: str | None = None
    duration: float | None = None
    timestamp: str | float | None = None
    data: dict[str, Any] | None = None


class CompleteIn(Strict):
    agentId: str = Field(min_length=1, max_length=200)
    statusInfo: StatusInfoIn


class ActionConfigOut(Open):
    pluginConfig: dict[str, Any]
    peInfo: dict[str, Any]
    deploymentInfo: dict[str, Any]


# events, agents, notifications
class EventIn(Strict):
    type: str = Field(min_length=1, max_length=100)
    status: EventStatus
    message: str = Field(max_length=20000)
    deploymentId: str | None = Field(default=None, max_length=200)
    environmentId: str | None = Field(default=None, max_length=200)
    data: dict[str, Any] = Field(default_factory=dict)
    time: str | None = Field(default=None, max_length=64, description="ISO 8601; default now")


class EventOut(Open):
    id: str
    time: str
    deploymentId: str | None
    environmentId: str | None
    type: str
    status: str
    message: str
    data: dict[str, Any]


class PurgeIn(Strict):
    olderThanDays: float | None = Field(default=None, ge=0, le=36500)


class PurgeOut(Open):
    removed: int


class HeartbeatIn(Strict):
    agentId: str = Field(min_length=1, max_length=200)
    kind: Literal["management", "monitoring"]
    data: dict[str, Any] = Field(default_factory=dict)


class AgentOut(Open):
    agentId: str
    kind: str
    lastSeen: str
    firstSeen: str
    online: bool
    data: dict[str, Any]


class AgentSnapshotOut(Open):
    environments: list[EnvironmentOut]
    deployments: list[DeploymentOut]
    openActionDeploymentIds: list[str]


class NotificationIn(Strict):
    url: str = Field(min_length=1, max_length=2000, pattern=r"^https?://")
    name: str = Field(default="", max_length=200)
    types: list[str] = Field(default_factory=list, max_length=100)
    statuses: list[EventStatus] = Field(default_factory=list)
    deploymentId: str | None = Field(default=None, max_length=200)
    enabled: bool = True


class NotificationOut(Open):
    id: str
    url: str
    name: str
    types: list[str]
    statuses: list[str]
    deploymentId: str | None
    enabled: bool
    createdAt: str


# settings
class Thresholds(Open):
    errorRateWarn: float
    errorRateFail: float
    userErrorRateWarn: float = 0.20
    userErrorRateFail: float = 1.0
    latencyP95WarnMs: float
    latencyP95FailMs: float
    driftWarn: float
    driftFail: float
    driftMinRows: float = 100.0
    jsdWarn: float = 0.13
    jsdFail: float = 0.21
    hellingerWarn: float = 0.11
    hellingerFail: float = 0.18
    accuracyMinRows: float = 10.0


class SettingsOut(Open):
    thresholds: Thresholds
    eventRetentionDays: float
    associationRetentionDays: float = 90.0


class SettingsPatch(Strict):
    thresholds: dict[str, float] | None = None
    eventRetentionDays: float | None = Field(default=None, gt=0, le=36500)
    associationRetentionDays: float | None = Field(default=None, gt=0, le=36500,
                                                   description="how long predictions wait for their actuals")
