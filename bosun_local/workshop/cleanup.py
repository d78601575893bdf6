"""`workshop clean`: remove what `workshop run` started — its deployments, app containers and images."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from bosun_local.client import ServiceClient, ServiceError
from bosun_local.config import Config
from bosun_local.engine import adapter
from bosun_local.envstack.environment import EnvironmentStack
from bosun_local.errors import BosunError
from bosun_local.workshop.layout import ENV_FILE, STATE_FILE, WorkshopDir, WorkshopError

DELETE_TIMEOUT_SEC = 120


def delete_deployments(client: ServiceClient, ids: list[str]) -> list[str]:
    """Delete deployments (waiting for the agent to stop managed ones); return the ids that remain."""
    remaining: list[str] = []
    for deployment_id in ids:
        try:
            result = client.delete_deployment(deployment_id)
        except ServiceError as exc:
            if exc.status_code == 404:
                continue  # already gone
            raise
        action = (result or {}).get("action")
        if action:
            finished = client.wait_for_action(action["id"], timeout=DELETE_TIMEOUT_SEC)
            if finished["status"] != "done":
                remaining.append(deployment_id)
    return remaining


def clean(directory: Path, config: Config, everything: bool = False) -> dict[str, Any]:
    """Remove what run recorded in the folder; with everything, stop the environment stack too."""
    workshop = WorkshopDir(directory)
    state = workshop.load_state()
    done: dict[str, Any] = {"deployments": [], "containers": [], "images": [], "environmentStack": False}
    problems: list[str] = []

    if state.deployments:
        try:
            with ServiceClient(config=config) as client:
                left = delete_deployments(client, state.deployments)
        except BosunError as exc:
            problems.append(f"deployments {', '.join(state.deployments)} not deleted: {exc.message}")
            left = state.deployments
        done["deployments"] = [d for d in state.deployments if d not in left]
        if left and not problems:
            problems.append(f"the management agent did not finish deleting {', '.join(left)}")
        state.deployments = left
        workshop.save_state(state)

    project = state.project or (workshop.app_stack().project if workshop.compose_file.is_file() else "")
    if project:
        done["containers"] = adapter.project_containers(project)
        if not workshop.compose_file.is_file():
            problems.append(f"{workshop.compose_file} is gone; remove project {project} with "
                            f"`docker compose -p {project} down`")
        elif done["containers"] or adapter.project_networks(project):
            adapter.ComposeProject(project, workshop.compose_file).down(timeout=5)

    for image in list(state.images):
        try:
            if adapter.remove_image(image):
                done["images"].append(image)
            state.images.remove(image)
        except BosunError as exc:
            problems.append(exc.message)
    workshop.save_state(state)

    if everything:
        EnvironmentStack(config).down()
        done["environmentStack"] = True

    if problems:
        raise WorkshopError("workshop clean left some things behind:\n  " + "\n  ".join(problems),
                            fix="start the environment stack (`bosun-local up`) so the service and agent can remove "
                                "the deployments, then run `bosun-local workshop clean` again")
    for name in (STATE_FILE, ENV_FILE):
        (workshop.root / name).unlink(missing_ok=True)
    return done
