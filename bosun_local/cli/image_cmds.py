"""`bosun-local images ...`: build and list the stack's images."""
from __future__ import annotations

import click
from rich.progress import TaskID

from bosun_local.cli.output import json_option, print_json, print_table
from bosun_local.cli.progress import step_progress
from bosun_local.config import load_config
from bosun_local.engine import adapter
from bosun_local.engine.images import BUILD_ORDER, HASH_LABEL, BuildResult, ImageBuilder
from bosun_local.envstack.prometheus_stack import EXTRAS

IMAGE_KEYS = ("baseImage", "traefikImage", "rabbitmqImage", "agentImage", "ppsBaseImage", "prometheusImage")


def build_all(upstream: bool = False, force: bool = False, show_progress: bool = True,
              extras: tuple[str, ...] = (), only: tuple[str, ...] = BUILD_ORDER) -> list[BuildResult]:
    """Build every image in order (or those of `only`) with a progress bar per image."""
    config = load_config()
    results: list[BuildResult] = []
    with step_progress(show_progress) as progress:
        for name in [n for n in BUILD_ORDER if n in only]:
            task = progress.add_task(name, total=None, detail="")

            def step(done: int, total: int, text: str, task: TaskID = task) -> None:
                progress.update(task, completed=done, total=total or None, detail=text[:70])

            builder = ImageBuilder(config, step, upstream=upstream, force=force, extras=extras)
            result = getattr(builder, name)()
            progress.update(task, completed=1, total=1, detail=f"{result.action}: {result.image}")
            results.append(result)
    return results


@click.group("images")
def images() -> None:
    """Build and list the images the stacks run."""


@images.command("build")
@click.option("--upstream", is_flag=True,
              help="Use the official images (traefik, rabbitmq, python-slim) from a registry.")
@click.option("--force", is_flag=True, help="Rebuild even when the inputs did not change.")
@click.option("--with", "extras", multiple=True, type=click.Choice(EXTRAS),
              help="Also build an optional service's image (e.g. prometheus).")
@json_option
def build(upstream: bool, force: bool, extras: tuple[str, ...], as_json: bool) -> None:
    """Build the images, skipping those whose inputs did not change."""
    results = build_all(upstream=upstream, force=force, show_progress=not as_json, extras=extras)
    if as_json:
        print_json([r.to_dict() for r in results])
    else:
        print_table([r.to_dict() for r in results], ["key", "image", "action", "inputsHash"])


@images.command("list")
@json_option
def list_images(as_json: bool) -> None:
    """Show each configured image and whether it is present."""
    config = load_config()
    rows = []
    for key in IMAGE_KEYS:
        name = config[key]
        present = adapter.image_exists(name)
        rows.append({"key": key, "image": name, "present": present,
                     "inputsHash": adapter.image_labels(name).get(HASH_LABEL, "") if present else ""})
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["key", "image", "present", "inputsHash"])


def register(group: click.Group) -> None:
    """Add the images commands to the CLI."""
    group.add_command(images)
