"""Progress displays for long steps (image builds, waits)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from bosun_local.cli.output import err_console


@contextmanager
def step_progress(enabled: bool = True) -> Iterator[Progress]:
    """Yield a rich Progress on stderr (disabled: output stays clean for --json)."""
    progress = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TextColumn("{task.fields[detail]}", style="dim"),
                        console=err_console, disable=not enabled, transient=False)
    with progress:
        yield progress
