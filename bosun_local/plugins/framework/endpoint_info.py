"""EndpointInfo: the optional `endpointInfo` section passed to endpoint_update / endpoint_status."""
from __future__ import annotations

from typing import Any

from bosun_local.plugins.framework.info_fields import require_mapping


class EndpointInfo:
    """An endpoint description, kept as given; plugins that manage endpoints read what they need."""

    def __init__(self, endpoint_info: dict[str, Any] | None, parent: str = "endpointInfo") -> None:
        self._endpoint_info = dict(require_mapping(endpoint_info or {}, parent))

    @property
    def id(self) -> str | None:
        return self._endpoint_info.get("id")

    def get(self, key: str, default: Any = None) -> Any:
        """Return one value of the endpoint description."""
        return self._endpoint_info.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        """Return the endpoint description."""
        return dict(self._endpoint_info)
