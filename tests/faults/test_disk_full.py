"""The data dir's disk full under the running stack (its tmpfs filled): the service refuses writes with a 507 that
names the data dir and the fix, stores nothing half-way, loses no prediction (the spool holds them) and recovers
on its own when space is back (issue 17)."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bosun_local.client import ServiceError
from tests.agent.packages import ROW, diabetes_package
from tests.support.disk import fill
from tests.support.stack import WholeStack, until


def send(stack: WholeStack, dep: str, count: int) -> None:
    with httpx.Client(timeout=30) as http:
        codes = [http.post(f"{stack.web}/deployments/{dep}/predictions", json=[ROW]).status_code
                 for _ in range(count)]
    assert codes == [200] * count, codes


def test_full_data_dir_refuses_clearly_loses_nothing_and_recovers(stack: WholeStack, packages: tuple[str, str],
                                                                   serving: str, tmp_path: Path) -> None:
    linear, _ = packages
    dep = serving
    package = diabetes_package(tmp_path / "pkg")
    with stack.client() as client:
        until("traefik to route", lambda: httpx.get(f"{stack.web}/deployments/{dep}/info").status_code == 200, 120)
        base = client.stats(dep)  # the shared deployment may have served other faults first: count from here
        send(stack, dep, 20)
        until("20 predictions to be counted", lambda: client.stats(dep)["predictions"] == base["predictions"] + 20,
              120, every=1)
        deployments, packages_before = len(client.list_deployments()), len(client.list_packages())
        filler = fill(stack.home)
        try:
            send(stack, dep, 30)  # the PPS needs no space in the data dir: it keeps answering
            # A package upload needs new blocks (small database writes may still fit in the WAL's existing pages).
            with pytest.raises(ServiceError) as refused:
                client.register_package(package)
            assert refused.value.status_code == 507, refused.value
            said = str(refused.value)
            assert f"the data dir {stack.home}" in said and "no space left" in said.lower(), said
            assert "free space" in (refused.value.fix or said), said
            cli = stack.cli("packages", "register", str(package), check=False)
            assert cli.returncode == 1 and str(stack.home) in cli.stdout + cli.stderr, (cli.stdout, cli.stderr)
            assert "Traceback" not in cli.stdout + cli.stderr
            # Reads still work; what could not be stored waits in the spool, none half-stored.
            assert base["predictions"] + 20 <= client.stats(dep)["predictions"] <= base["predictions"] + 50
        finally:
            filler.unlink()
        until("all 50 predictions to be counted",
              lambda: client.stats(dep)["predictions"] == base["predictions"] + 50, 180, every=1)
        stats = client.stats(dep)
        assert (stats["systemErrors"], stats["userErrors"]) == (base["systemErrors"], base["userErrors"]), stats
        assert len(client.list_deployments()) == deployments
        assert len(client.list_packages()) == packages_before  # the refused uploads left nothing behind
        assert stack.cli_json("packages", "register", str(package))["id"]  # writes work again, nothing restarted
