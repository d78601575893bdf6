"""A local PostgreSQL for the service, from Debian's packages, made and started idempotently (like the engine).

It is a cluster of its own (`bosun`, on port 5433 unless BOSUN_POSTGRES_PORT says otherwise), so a PostgreSQL the
host already runs is left alone. The role `bosun` may create databases (tests make one per service); its
password is generated once and kept, with the URL, in a 0600 file.
"""
from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bosun_local.errors import BosunError

CLUSTER = "bosun"
ROLE = "bosun"
DATABASE = "bosun"
DEFAULT_PORT = 5433
URL_FILE = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "bosun-local" / "postgres.url"

Say = Callable[[str], None]


class PostgresError(BosunError):
    """The local PostgreSQL could not be installed, started or set up."""


def _run(argv: list[str], what: str, timeout: float = 120, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise PostgresError(f"{what} failed: `{' '.join(argv)}` exited {proc.returncode}:\n"
                            f"{(proc.stderr or proc.stdout).strip()[-2000:]}",
                            fix="read the message above; the cluster's log is under /var/log/postgresql/")
    return proc.stdout


def port() -> int:
    """Return the port of the local cluster."""
    return int(os.environ.get("BOSUN_POSTGRES_PORT", DEFAULT_PORT))


def _install(say: Say) -> None:
    if os.geteuid() != 0:
        raise PostgresError("PostgreSQL is not installed and bosun-local is not running as root",
                            fix="install Debian's postgresql (`sudo apt-get install postgresql`), or set "
                                "databaseUrl to a server you have")
    say("installing Debian's postgresql (apt-get) ...")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update", "-qq"], "apt-get update", timeout=900, env=env)
    _run(["apt-get", "install", "-y", "-qq", "postgresql"], "installing postgresql", timeout=900, env=env)


def _version() -> str:
    versions = sorted((p.name for p in Path("/usr/lib/postgresql").glob("*") if (p / "bin" / "postgres").exists()),
                      key=int)
    if not versions:
        raise PostgresError("no PostgreSQL server under /usr/lib/postgresql/*/bin/postgres",
                            fix="install Debian's postgresql package")
    return versions[-1]


def _cluster_status(version: str) -> str | None:
    """Return 'online' or 'down' for our cluster, None when it does not exist."""
    for line in _run(["pg_lsclusters", "--no-header"], "listing clusters").splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0] == version and fields[1] == CLUSTER:
            return fields[3]
    return None


def _psql(sql: str) -> str:
    return _run(["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-t", "-A", "-p", str(port()),
                 "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql], "running SQL as the postgres superuser")


def _password() -> str:
    if URL_FILE.exists():
        from urllib.parse import urlsplit

        saved = urlsplit(URL_FILE.read_text().strip()).password
        if saved:
            return saved
    return secrets.token_urlsafe(18)


def _write_url(url: str) -> None:
    URL_FILE.parent.mkdir(parents=True, exist_ok=True)
    tmp = URL_FILE.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(url + "\n")
    os.replace(tmp, URL_FILE)


def _wait_ready(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port())], check=False).returncode == 0:
            return
        time.sleep(0.5)
    raise PostgresError(f"PostgreSQL on 127.0.0.1:{port()} did not accept connections within {timeout:g} s",
                        fix=f"read /var/log/postgresql/postgresql-*-{CLUSTER}.log")


def ensure_postgres(say: Say = lambda _: None) -> str:
    """Install, create and start the local cluster and role when missing; return its database URL."""
    if os.geteuid() != 0 and URL_FILE.exists():
        return URL_FILE.read_text().strip()
    if not shutil.which("pg_ctlcluster"):
        _install(say)
    URL_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(URL_FILE.with_suffix(".lock"), "w") as lock:
        # One provisioning at a time: `make test` and a test fixture may both get here.
        fcntl.flock(lock, fcntl.LOCK_EX)
        version = _version()
        status = _cluster_status(version)
        if status is None:
            say(f"creating PostgreSQL {version} cluster '{CLUSTER}' on port {port()} ...")
            _run(["pg_createcluster", version, CLUSTER, "--port", str(port()), "--",
                  "--auth-local=peer", "--auth-host=scram-sha-256"], "creating the cluster")
            status = "down"
        if status != "online":
            say(f"starting PostgreSQL cluster {version}/{CLUSTER} ...")
            _run(["pg_ctlcluster", version, CLUSTER, "start"], "starting the cluster")
        _wait_ready()
        password = _password()
        exists = _psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}'").strip() == "1"
        verb = "ALTER" if exists else "CREATE"
        _psql(f"{verb} ROLE {ROLE} WITH LOGIN CREATEDB PASSWORD '{password}'")
        if _psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'").strip() != "1":
            _psql(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
        url = f"postgresql://{ROLE}:{password}@127.0.0.1:{port()}/{DATABASE}"
        _write_url(url)
    return url
