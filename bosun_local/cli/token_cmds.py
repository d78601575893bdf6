"""`bosun-local tokens create|list|revoke`: scoped API tokens of the data dir (run by its owner, on this host)."""
from __future__ import annotations

import click

from bosun_local.cli.output import json_option, print_json, print_table
from bosun_local.config import load_config
from bosun_local.service.tokens import SCOPES, TokenStore


@click.group("tokens")
def tokens() -> None:
    """Scoped API tokens: admin, deployer, reader, reporter, agent (the `token` file stays admin)."""


def _store() -> TokenStore:
    return TokenStore(load_config().data_dir)


@tokens.command("create")
@click.option("--name", required=True, help="Who or what uses the token (unique).")
@click.option("--scope", required=True, type=click.Choice(SCOPES), help="What the token may do (README: trust).")
@json_option
def create(name: str, scope: str, as_json: bool) -> None:
    """Create a token and print it once (only its hash is kept)."""
    record, secret = _store().create(name, scope)
    if as_json:
        print_json({**record.public(), "token": secret})
        return
    click.echo(secret)
    click.echo(f"created {scope} token {name!r} ({record.id}); it is shown only now", err=True)


@tokens.command("list")
@json_option
def list_tokens(as_json: bool) -> None:
    """List tokens (never their secrets)."""
    rows = [r.public() for r in _store().records()]
    if as_json:
        print_json(rows)
        return
    print_table(rows, ["id", "name", "scope", "createdAt"])


@tokens.command("revoke")
@click.argument("ref")
@json_option
def revoke(ref: str, as_json: bool) -> None:
    """Revoke a token by id or name; the service refuses it from the next request on."""
    record = _store().revoke(ref)
    if as_json:
        print_json(record.public())
        return
    click.echo(f"revoked {record.scope} token {record.name!r} ({record.id})")


def register(group: click.Group) -> None:
    """Add the token commands to the CLI."""
    group.add_command(tokens)
