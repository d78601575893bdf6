"""`workshop init`: the files it writes, what it renders in, and that it never overwrites without --force."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bosun_local.config import load_config
from bosun_local.engine import adapter
from bosun_local.workshop.layout import APP, INSTRUMENTED, WorkshopDir
from tests.conftest import write_test_config
from tests.workshop.helpers import bosun

EXPECTED = {"model/model.py", "app/app.py", "app-instrumented/app.py", "app/Dockerfile",
            "app-instrumented/Dockerfile", "compose.yaml", "README.md", ".dockerignore"}


def test_init_writes_the_folder_with_config_values_rendered_in(bosun_home: Path, tmp_path: Path) -> None:
    write_test_config(bosun_home, "wsinit", agentImage="example/runtime:9")
    target = tmp_path / "ws"
    result = bosun("workshop", "init", str(target), "--app-port", "19191", "--instrumented-port", "19192", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {f["file"] for f in report["files"]} == EXPECTED
    assert {f["action"] for f in report["files"]} == {"written"}
    assert {str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()} == EXPECTED

    stack = WorkshopDir(target).app_stack()
    assert stack.project == "wsinit-workshop"
    assert stack.network == "wsinit"
    assert stack.ports == {APP: 19191, INSTRUMENTED: 19192}
    assert stack.images[APP] != stack.images[INSTRUMENTED]
    assert "ARG BASE_IMAGE=example/runtime:9" in (target / "app/Dockerfile").read_text()
    assert f"docker build -t {stack.images[INSTRUMENTED]}" in (target / "app-instrumented/Dockerfile").read_text()
    readme = (target / "README.md").read_text()
    assert "http://127.0.0.1:19191/predict" in readme and "127.0.0.1:19192" in readme
    assert "Rendered by bosun-local" not in readme  # attendees edit these files: no "do not edit" header
    compose = yaml.safe_load((target / "compose.yaml").read_text())
    env = compose["services"][INSTRUMENTED]["environment"]
    assert env["MLOPS_SPOOLER_TYPE"] == "RABBITMQ" and env["MLOPS_DEPLOYMENT_ID"] == "${WORKSHOP_DEPLOYMENT_ID:-}"
    assert compose["networks"]["environment"] == {"name": "wsinit", "external": True}
    assert ".env" in (target / ".dockerignore").read_text().split()


def test_init_keeps_existing_files_unless_forced(bosun_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "ws"
    assert bosun("workshop", "init", str(target)).returncode == 0
    edited = target / "app/app.py"
    edited.write_text("# my changes\n")

    again = bosun("workshop", "init", str(target), "--json")
    assert again.returncode == 0, again.stderr
    actions = {f["file"]: f["action"] for f in json.loads(again.stdout)["files"]}
    assert set(actions.values()) == {"kept"}
    assert edited.read_text() == "# my changes\n"

    forced = bosun("workshop", "init", str(target), "--force", "--json")
    actions = {f["file"]: f["action"] for f in json.loads(forced.stdout)["files"]}
    assert set(actions.values()) == {"overwritten"}
    assert "def predict" in edited.read_text()


def test_init_restores_a_deleted_file_and_keeps_the_rest(bosun_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "ws"
    assert bosun("workshop", "init", str(target)).returncode == 0
    (target / "compose.yaml").unlink()
    result = bosun("workshop", "init", str(target), "--json")
    actions = {f["file"]: f["action"] for f in json.loads(result.stdout)["files"]}
    assert actions.pop("compose.yaml") == "written"
    assert set(actions.values()) == {"kept"}


@pytest.mark.parametrize("args, message", [
    (["--app-port", "9500", "--instrumented-port", "9500"], "cannot share host port 9500"),
    (["--app-port", "70000"], "70000"),
])
def test_init_refuses_bad_ports_with_exit_2(bosun_home: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = bosun("workshop", "init", str(tmp_path / "ws"), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "ws").exists()


def test_init_into_a_file_is_an_error_naming_it(bosun_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("x")
    result = bosun("workshop", "init", str(target))
    assert result.returncode in (1, 2)
    assert str(target) in result.stderr
    assert "Traceback" not in result.stderr


def test_run_in_a_folder_without_init_names_the_missing_file(bosun_home: Path, tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    result = bosun("workshop", "run", str(tmp_path / "ws"))
    assert result.returncode == 1
    assert "has no model/model.py" in result.stderr and "workshop init" in result.stderr


def test_run_refuses_a_folder_made_for_another_network(bosun_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "ws"
    assert bosun("workshop", "init", str(target)).returncode == 0  # default config: network "bosun"
    write_test_config(bosun_home, "wsother")
    result = bosun("workshop", "run", str(target))
    assert result.returncode == 1
    assert "joins network 'bosun'" in result.stderr and "'wsother'" in result.stderr


@pytest.mark.docker
def test_rendered_compose_file_is_valid_for_compose(docker_engine: None, bosun_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "ws"
    assert bosun("workshop", "init", str(target)).returncode == 0
    stack = WorkshopDir(target).app_stack()
    adapter.ComposeProject(stack.project, target / "compose.yaml").config_check()
    assert load_config()["dockerNetwork"] == stack.network


@pytest.mark.docker
def test_clean_of_a_folder_never_run_removes_nothing(docker_engine: None, bosun_home: Path, tmp_path: Path) -> None:
    write_test_config(bosun_home, "wsclean")
    target = tmp_path / "ws"
    assert bosun("workshop", "init", str(target)).returncode == 0
    result = bosun("workshop", "clean", str(target), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"deployments": [], "containers": [], "images": [], "environmentStack": False}


@pytest.mark.docker
def test_run_without_the_runtime_image_says_how_to_build_it(docker_engine: None, bosun_home: Path,
                                                            tmp_path: Path) -> None:
    write_test_config(bosun_home, "wsnoimg", agentImage="bosun-local/no-such-runtime:0")
    target = tmp_path / "ws"
    assert bosun("workshop", "init", str(target)).returncode == 0
    result = bosun("workshop", "run", str(target))
    assert result.returncode == 1
    assert "runtime image bosun-local/no-such-runtime:0" in result.stderr
    assert "bosun-local images build" in result.stderr
    assert (target / "model/package/model.pkl").is_file()  # task 2 ran before the build needed the image
