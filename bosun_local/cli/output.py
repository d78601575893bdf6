"""Output helpers shared by commands: JSON for scripts, rich tables for people."""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from bosun_local.contracts.names import terminal_safe

PIPED_WIDTH = 240

console = Console()
if not console.is_terminal and "COLUMNS" not in os.environ:
    # Piped or redirected: Rich would wrap at 80 columns and split values over lines that grep then misses.
    console = Console(width=PIPED_WIDTH)
err_console = Console(stderr=True)

STATUS_STYLE = {"ok": "green", "passing": "green", "warning": "yellow", "fail": "red", "failing": "red",
                "unknown": "grey50", "info": "cyan"}

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def print_json(data: Any) -> None:
    """Print data as indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2, default=str))


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None,
                style_of: Callable[[dict[str, Any]], str | None] | None = None) -> None:
    """Print rows as a table with the given columns."""
    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*[terminal_safe(str(row.get(c, ""))) for c in columns], style=style_of(row) if style_of else None)
    console.print(table)


def status_text(status: str) -> str:
    """Return a status word coloured for the terminal."""
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"
