"""Action names: what the service queues for agents, what agents ask plugins, and how they map onto states."""
from __future__ import annotations

from typing import Final, Literal

from bosun_local.contracts.states import DeploymentState, DesiredState

QueuedActionName = Literal["deployment_start", "deployment_stop", "deployment_replace_model", "deployment_relaunch",
                           "deployment_delete", "deployment_traffic_update", "deployment_scale"]


class PluginAction:
    """Every action a plugin runs: DataRobot's eleven, plus bosun-local's documented extensions."""

    PLUGIN_START: Final = "plugin_start"
    PLUGIN_STOP: Final = "plugin_stop"
    DEPLOYMENT_LIST: Final = "deployment_list"
    DEPLOYMENT_START: Final = "deployment_start"
    DEPLOYMENT_STOP: Final = "deployment_stop"
    DEPLOYMENT_REPLACE_MODEL: Final = "deployment_replace_model"
    DEPLOYMENT_STATUS: Final = "deployment_status"
    DEPLOYMENT_RELAUNCH: Final = "deployment_relaunch"
    PE_STATUS: Final = "pe_status"
    ENDPOINT_UPDATE: Final = "endpoint_update"
    ENDPOINT_STATUS: Final = "endpoint_status"
    # bosun-local extension (docs/plugins.md): report, and set, the environment's monitoring-agent replicas.
    MONITORING_SCALE: Final = "monitoring_scale"
    # bosun-local extension (docs/plugins.md): run the deployment's challengers and canary beside its champion and
    # route to them (mirror, weighted split) as deploymentInfo.traffic says.
    DEPLOYMENT_TRAFFIC_UPDATE: Final = "deployment_traffic_update"
    # bosun-local extension (docs/plugins.md): run deploymentInfo.keyValueConfig.replicas containers of the champion,
    # dropping no request.
    DEPLOYMENT_SCALE: Final = "deployment_scale"

    # DataRobot's actions (BosunPluginActions.ALL), which every plugin answers.
    ALL: Final = (
        PLUGIN_START, PLUGIN_STOP, DEPLOYMENT_LIST, DEPLOYMENT_START, DEPLOYMENT_STOP,
        DEPLOYMENT_REPLACE_MODEL, DEPLOYMENT_STATUS, DEPLOYMENT_RELAUNCH, PE_STATUS,
        ENDPOINT_UPDATE, ENDPOINT_STATUS,
    )
    EXTENSIONS: Final = (MONITORING_SCALE, DEPLOYMENT_TRAFFIC_UPDATE, DEPLOYMENT_SCALE)
    # What the framework dispatches: the standard actions and the extensions (with defaults in BosunPluginBase).
    SUPPORTED: Final = (*ALL, *EXTENSIONS)
    # Actions that act on one deployment and therefore need `deploymentInfo` in the action config.
    NEED_DEPLOYMENT_INFO: Final = (
        DEPLOYMENT_START, DEPLOYMENT_STOP, DEPLOYMENT_REPLACE_MODEL, DEPLOYMENT_STATUS, DEPLOYMENT_RELAUNCH,
        DEPLOYMENT_TRAFFIC_UPDATE, DEPLOYMENT_SCALE,
    )


class QueuedAction:
    """Action types the service queues for a deployment and an agent claims."""

    DEPLOYMENT_START: Final = "deployment_start"
    DEPLOYMENT_STOP: Final = "deployment_stop"
    DEPLOYMENT_REPLACE_MODEL: Final = "deployment_replace_model"
    DEPLOYMENT_RELAUNCH: Final = "deployment_relaunch"
    DEPLOYMENT_DELETE: Final = "deployment_delete"
    # Challengers and canary (bosun-local extension): params.traffic is the wanted {challengers, canary}.
    DEPLOYMENT_TRAFFIC_UPDATE: Final = "deployment_traffic_update"
    # Replicas (bosun-local extension): params.replicas is the wanted count; done, it becomes keyValueConfig replicas.
    DEPLOYMENT_SCALE: Final = "deployment_scale"

    ALL: Final = (DEPLOYMENT_START, DEPLOYMENT_STOP, DEPLOYMENT_REPLACE_MODEL, DEPLOYMENT_RELAUNCH, DEPLOYMENT_DELETE,
                  DEPLOYMENT_TRAFFIC_UPDATE, DEPLOYMENT_SCALE)


# The plugin action that carries out each queued action (a delete stops the deployment; the service forgets it).
PLUGIN_ACTION_FOR: Final = {
    QueuedAction.DEPLOYMENT_START: PluginAction.DEPLOYMENT_START,
    QueuedAction.DEPLOYMENT_STOP: PluginAction.DEPLOYMENT_STOP,
    QueuedAction.DEPLOYMENT_REPLACE_MODEL: PluginAction.DEPLOYMENT_REPLACE_MODEL,
    QueuedAction.DEPLOYMENT_RELAUNCH: PluginAction.DEPLOYMENT_RELAUNCH,
    QueuedAction.DEPLOYMENT_DELETE: PluginAction.DEPLOYMENT_STOP,
    QueuedAction.DEPLOYMENT_TRAFFIC_UPDATE: PluginAction.DEPLOYMENT_TRAFFIC_UPDATE,
    QueuedAction.DEPLOYMENT_SCALE: PluginAction.DEPLOYMENT_SCALE,
}
# Actions the service builds an action config for: the queued ones and every plugin action.
CONFIG_ACTIONS: Final = tuple(dict.fromkeys((*QueuedAction.ALL, *PluginAction.ALL, *PluginAction.EXTENSIONS)))
# A deployment's state while its queued action runs, and after it succeeded.
RUNNING_STATE: Final = {
    QueuedAction.DEPLOYMENT_START: DeploymentState.LAUNCHING,
    QueuedAction.DEPLOYMENT_RELAUNCH: DeploymentState.LAUNCHING,
    QueuedAction.DEPLOYMENT_REPLACE_MODEL: DeploymentState.REPLACING_MODEL,
    QueuedAction.DEPLOYMENT_STOP: DeploymentState.SHUTTING_DOWN,
    QueuedAction.DEPLOYMENT_DELETE: DeploymentState.SHUTTING_DOWN,
    # The champion keeps serving while challengers and canary change, and while its replicas do.
    QueuedAction.DEPLOYMENT_TRAFFIC_UPDATE: DeploymentState.READY,
    QueuedAction.DEPLOYMENT_SCALE: DeploymentState.READY,
}
DONE_STATE: Final = {
    QueuedAction.DEPLOYMENT_START: DeploymentState.READY,
    QueuedAction.DEPLOYMENT_RELAUNCH: DeploymentState.READY,
    QueuedAction.DEPLOYMENT_REPLACE_MODEL: DeploymentState.READY,
    QueuedAction.DEPLOYMENT_STOP: DeploymentState.STOPPED,
    QueuedAction.DEPLOYMENT_DELETE: DeploymentState.STOPPED,
    QueuedAction.DEPLOYMENT_TRAFFIC_UPDATE: DeploymentState.READY,
    QueuedAction.DEPLOYMENT_SCALE: DeploymentState.READY,
}
# The desired state a queued action sets; None leaves it as it is.
DESIRED_BY_ACTION: Final[dict[str, str | None]] = {
    QueuedAction.DEPLOYMENT_START: DesiredState.RUNNING,
    QueuedAction.DEPLOYMENT_STOP: DesiredState.STOPPED,
    QueuedAction.DEPLOYMENT_DELETE: DesiredState.DELETED,
    QueuedAction.DEPLOYMENT_RELAUNCH: DesiredState.RUNNING,
    QueuedAction.DEPLOYMENT_REPLACE_MODEL: None,
    QueuedAction.DEPLOYMENT_TRAFFIC_UPDATE: None,
    QueuedAction.DEPLOYMENT_SCALE: None,
}
