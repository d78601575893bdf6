"""`bosun-local pps ...`: run the prediction server and check model packages."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from bosun_local.cli.output import json_option, print_json, print_table
from bosun_local.errors import UsageError


@click.group("pps")
def pps() -> None:
    """Serve model packages over HTTP (the prediction server)."""


@pps.command("serve")
@click.option("--model-dir", type=click.Path(path_type=Path), help="Serve this one package (single-model mode).")
@click.option("--multi-base-dir", type=click.Path(path_type=Path),
              help="Serve every <prefix><id>/ deployment dir under this dir (multi-model mode).")
@click.option("--prefix", default=None, help="Deployment dir prefix in multi-model mode [default: deployment_].")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=None, help="Port [default: $PORT or 8080].")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes [default: $PREDICTION_API_WORKERS or 1].")
@click.option("--deployment-id", default=None,
              help="Deployment id (single-model mode) [default: $MLOPS_DEPLOYMENT_ID].")
@click.option("--model-id", default=None, help="Model id (single-model mode) [default: $MLOPS_MODEL_ID].")
@click.option("--monitoring/--no-monitoring", default=None,
              help="Report every request through the reporting library [default: on when MLOPS_SPOOLER_TYPE is set].")
def serve(model_dir: Path | None, multi_base_dir: Path | None, prefix: str | None, host: str, port: int | None,
          workers: int | None, deployment_id: str | None, model_id: str | None, monitoring: bool | None) -> None:
    """Run the prediction server until Ctrl-C or SIGTERM (in-flight requests finish first)."""
    from bosun_local.pps.server import serve as run_server
    from bosun_local.pps.settings import from_env

    if model_dir and multi_base_dir:
        raise UsageError("--model-dir and --multi-base-dir are two modes; give one",
                         fix="use --model-dir for one package or --multi-base-dir for a plugin base dir")
    settings = from_env().with_values(model_dir=model_dir, multi_base_dir=multi_base_dir, dir_prefix=prefix,
                                      host=host, port=port, workers=workers, deployment_id=deployment_id,
                                      model_id=model_id, monitoring=monitoring)
    if model_dir:  # an explicit package wins over a PPS_MULTI_BASE_DIR in the environment
        settings = replace(settings, multi_base_dir=None)
    run_server(settings)


@pps.command("check")
@click.argument("package", type=click.Path(path_type=Path))
@json_option
def check(package: Path, as_json: bool) -> None:
    """Load a model package as the server would and show what it takes and returns."""
    from bosun_local.pps.model import load_package
    from bosun_local.pps.registry import Deployment

    model = load_package(package)
    doc = Deployment(None, None, model, package).describe()
    if as_json:
        print_json(doc)
        return
    classes = f", classes {', '.join(doc['classNames'])}" if doc["classNames"] else ""
    click.echo(f"{package}: {doc['targetType']} model ({doc['modelKind']}, {doc['modelFile']}), "
               f"target {doc['targetName']}{classes}")
    print_table(doc["features"], ["name", "type"], title="features")


def register(group: click.Group) -> None:
    """Add the pps commands to the root group."""
    group.add_command(pps)
