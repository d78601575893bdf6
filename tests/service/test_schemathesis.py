"""Property-based run over the service's own OpenAPI spec: no 5xx, no response that breaks the spec."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from bosun_local.service.long_poll import MAX_WAIT_SEC
from tests.pps.conftest import PPSServer
from tests.pps.packages import regression_package
from tests.support.postgres import backend_env

from .helpers import Service, start, write_package


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, diabetes_frame: pd.DataFrame,
           storage_backend: str) -> Iterator[Service]:
    """Run a service with one package and deployment, so some generated ids resolve."""
    home: Path = tmp_path_factory.mktemp("fuzz")
    with backend_env(storage_backend) as env, start(home / "home", env=env) as svc:
        package = svc.client.register_package(write_package(home / "pkg", diabetes_frame))
        svc.client.create_deployment(package["id"], "fuzzed")
        yield svc


@pytest.fixture(scope="module")
def api_schema(fuzzed: Service) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
# 12 examples an operation, on each backend: 72 operations, and data generation is most of a case's time.
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_spec(case: schemathesis.Case, fuzzed: Service) -> None:
    # batchPredictions refuses every call with a documented 501 (tested in test_datarobot_api); 5xx is its answer.
    checks = [response_schema_conformance, content_type_conformance]
    if case.operation.path != "/api/v2/batchPredictions/":
        checks.insert(0, not_a_server_error)
    wait = case.body.get("waitSec") if isinstance(case.body, dict) else None
    if isinstance(wait, int | float) and not isinstance(wait, bool) and 0 < wait <= MAX_WAIT_SEC:
        # A valid long poll with nothing to claim waits its whole waitSec (up to 30 s, the client's timeout here):
        # keep the value fuzzed but short. Invalid ones (negative, too long, not a number) still go as generated.
        case.body["waitSec"] = min(wait, 0.2)
    case.call_and_validate(base_url=fuzzed.url, headers={"Authorization": f"Bearer {fuzzed.token}"}, timeout=30,
                           checks=checks)


@pytest.fixture(scope="module")
def pps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PPSServer]:
    """A PPS serving the diabetes regression package (issue 17: fuzz the PPS spec as well as the service's)."""
    package = regression_package(tmp_path_factory.mktemp("pps-fuzz") / "regression")
    server = PPSServer({"PPS_MODEL_DIR": str(package), "MLOPS_DEPLOYMENT_ID": "fuzz"})
    try:
        yield server.wait_ready()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def pps_schema(pps: PPSServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{pps.url}/openapi.json")


pps_spec = schemathesis.pytest.from_fixture("pps_schema")


@pps_spec.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_pps_conforms_to_its_spec(case: schemathesis.Case, pps: PPSServer) -> None:
    """No 5xx and answers in its spec's shapes, whatever the body; every answer within 10 s."""
    case.call_and_validate(base_url=pps.url, timeout=10,
                           checks=[not_a_server_error, response_schema_conformance, content_type_conformance])
    assert pps.proc.poll() is None
