"""The deployments table: rows keyed by deployment id, cells updated in place, sortable by any column."""
from __future__ import annotations

from typing import Any

from textual.widgets import DataTable

from bosun_local.tui.formatting import (
    SortableText,
    count_cell,
    drift_cell,
    ms_cell,
    rate_cell,
    state_cell,
    status_cell,
    text_cell,
    worst_status,
)
from bosun_local.tui.snapshot import Json

# (key, label, width): fixed widths keep the layout still while values change underneath.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("name", "name", 22),
    ("state", "state", 15),
    ("model", "model", 16),
    ("platform", "platform", 9),
    ("url", "prediction URL", 34),
    ("requests", "req 5m", 7),
    ("p50", "p50", 8),
    ("p95", "p95", 8),
    ("errors", "errors", 7),
    ("drift", "drift", 12),
    ("health", "health", 10),
)
COLUMN_KEYS: tuple[str, ...] = tuple(c[0] for c in COLUMNS)


def row_cells(dep: Json, packages: dict[str, str], stats: Json | None,
              platforms: dict[str, str] | None = None) -> dict[str, SortableText]:
    """Return the cells of one deployment's row: its JSON, package names, 5-minute stats, environments' platforms."""
    package_id = dep.get("modelId") or dep.get("packageId")
    model = packages.get(package_id, package_id[:8] if package_id else None) if package_id else None
    health = worst_status((stats or {}).get("serviceHealth"), dep.get("healthStatus"))
    return {
        "name": text_cell(dep.get("name"), style="bold"),
        "state": state_cell(dep.get("state"), dep.get("desiredState")),
        "model": text_cell(model),
        "platform": text_cell((platforms or {}).get(dep.get("environmentId") or "")),
        "url": text_cell(dep.get("predictionUrl")),
        "requests": count_cell(stats.get("predictions") if stats else None),
        "p50": ms_cell(stats.get("latencyP50Ms") if stats else None),
        "p95": ms_cell(stats.get("latencyP95Ms") if stats else None),
        "errors": rate_cell(stats.get("errorRate") if stats else None, stats.get("serviceHealth") if stats else None),
        "drift": drift_cell(stats.get("drift") if stats else None),
        "health": status_cell(health),
    }


def _signature(cell: SortableText) -> tuple[str, str]:
    return cell.plain, str(cell.style)


class DeploymentsTable(DataTable[Any]):
    """Deployments, one row per id; a poll changes only the cells whose text or colour changed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.deployments: dict[str, Json] = {}
        self.stats: dict[str, Json] = {}
        self._shown: dict[str, dict[str, tuple[str, str]]] = {}
        self.sort_column: str | None = None
        self.sort_reverse = False

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    @property
    def selected_id(self) -> str | None:
        """Return the id of the deployment under the cursor."""
        if not self.row_count:
            return None
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)

    def visible_ids(self) -> tuple[str, ...]:
        """Return the ids of the rows on screen, top to bottom."""
        first = int(self.scroll_y)
        rows = self.ordered_rows[first:first + max(1, self.size.height - 1)]
        return tuple(str(r.key.value) for r in rows)

    def apply(self, deployments: list[Json], packages: dict[str, str], stats: dict[str, Json],
              platforms: dict[str, str] | None = None) -> None:
        """Bring the table to a poll's deployments: add new rows, update changed cells, drop deleted ones."""
        self.stats.update(stats)
        current = {d["id"]: d for d in deployments}
        for gone in [key for key in self._shown if key not in current]:
            self.remove_row(gone)
            del self._shown[gone]
            self.stats.pop(gone, None)
        self.deployments = current
        for dep_id, dep in current.items():
            cells = row_cells(dep, packages, self.stats.get(dep_id), platforms)
            shown = self._shown.get(dep_id)
            if shown is None:
                self.add_row(*(cells[k] for k in COLUMN_KEYS), key=dep_id)
                self._shown[dep_id] = {k: _signature(c) for k, c in cells.items()}
                continue
            for key, cell in cells.items():
                signature = _signature(cell)
                if shown[key] != signature:
                    self.update_cell(dep_id, key, cell)
                    shown[key] = signature
        if self.sort_column:
            self._resort()

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        """Sort by a column; sorting by the same column again flips the order."""
        if reverse is None:
            reverse = not self.sort_reverse if column == self.sort_column else False
        self.sort_column, self.sort_reverse = column, reverse
        self._resort(force=True)

    def cycle_sort(self) -> str:
        """Sort by the next column; return a description of the order."""
        index = COLUMN_KEYS.index(self.sort_column) + 1 if self.sort_column else 0
        self.sort_by(COLUMN_KEYS[index % len(COLUMN_KEYS)], reverse=False)
        return self.sort_description()

    def sort_description(self) -> str:
        """Return the current order in words."""
        if not self.sort_column:
            return "creation order"
        label = dict((k, label) for k, label, _ in COLUMNS)[self.sort_column]
        return f"{label} {'descending' if self.sort_reverse else 'ascending'}"

    def _resort(self, force: bool = False) -> None:
        """Sort the rows, keeping the cursor on the same deployment; skip when the order is already right."""
        if not self.sort_column or not self.row_count:
            return
        column = self.sort_column
        data = {str(r.key.value): self.get_cell(r.key, column) for r in self.ordered_rows}
        wanted = sorted(data, key=lambda k: data[k].sort_key, reverse=self.sort_reverse)
        if not force and wanted == [str(r.key.value) for r in self.ordered_rows]:
            return
        selected = self.selected_id
        self.sort(column, key=lambda cell: cell.sort_key, reverse=self.sort_reverse)
        if selected is not None:
            self.move_cursor(row=self.get_row_index(selected), scroll=False)
