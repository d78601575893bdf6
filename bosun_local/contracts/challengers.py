"""How a challenger gets the champion's traffic: a replay of the rows the champion reported, or a live mirror."""
from __future__ import annotations

from typing import Any, Final

# The monitoring agent sends each row the champion reported to the challenger, after it was stored (DataRobot's
# challengers work this way): nothing is added to the champion's request path.
REPLAY: Final = "replay"
# traefik's mirroring service copies every request to the challenger as it happens: latency compares live, and the
# champion pays for the copy (its network path carries a second upstream connection per request; BENCHMARKS.md).
MIRROR: Final = "mirror"
FEEDS: Final = (REPLAY, MIRROR)
DEFAULT_FEED: Final = REPLAY
# keyValueConfig key (per deployment) and service setting (every deployment) choosing the feed of new challengers.
FEED_KEY: Final = "challengerFeed"
# traefik priority of a challenger's own router: above the deployment's (label rules, and the file provider's
# mirror/canary router at 10000), whose PathPrefix(/deployments/<id>/) matches the challenger's path too.
ROUTE_PRIORITY: Final = 20000


def feed_of(entry: dict[str, Any]) -> str:
    """Return a challenger entry's feed; entries written before feeds existed were mirrored."""
    return str(entry.get("feed") or MIRROR)


def challengers_prefix(deployment_id: str) -> str:
    """Return the path under which traefik routes to each challenger of a deployment by its model id."""
    return f"/deployments/{deployment_id}/challengers/"


def replay_path(deployment_id: str, model_id: str) -> str:
    """Return the path prefix traefik routes to one challenger alone (rewritten to its /deployments/<id>/)."""
    return f"{challengers_prefix(deployment_id)}{model_id}/"
