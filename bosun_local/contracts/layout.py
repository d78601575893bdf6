"""The data dir's layout: one name per file or folder, shared by the CLI, service, agents and stacks."""
from __future__ import annotations

from pathlib import Path

HOME_ENV = "BOSUN_HOME"
DEFAULT_DATA_DIR = Path("~/.local/share/bosun-local")

CONFIG_FILE = "bosun-local.yaml"
SECRETS_FILE = "secrets.yml"
TOKEN_FILE = "token"
DATABASE_FILE = "bosun.db"
PACKAGES_DIR = "packages"
STACKS_DIR = "stacks"
SPOOL_DIR = "spool"
LOGS_DIR = "logs"
AGENT_DIR = "agent"
# traefik's JSON access log of failed requests (logs/traefik/access.json), which the management agent counts.
TRAEFIK_LOG_DIR = "traefik"
TRAEFIK_ACCESS_LOG = "access.json"
CACHE_DIR = "cache"
# traefik's file provider reads this folder: per-deployment routes (mirror, weighted split) rendered by the agent.
TRAEFIK_DIR = "traefik"


class DataDir:
    """Paths inside one data dir (no I/O: creating them is the owner's job)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def config_file(self) -> Path:
        """Return the user's bosun-local.yaml."""
        return self.root / CONFIG_FILE

    @property
    def secrets_file(self) -> Path:
        """Return the generated secrets (RabbitMQ credentials), 0600."""
        return self.root / SECRETS_FILE

    @property
    def token_file(self) -> Path:
        """Return the service's API token file."""
        return self.root / TOKEN_FILE

    @property
    def database(self) -> Path:
        """Return the service's SQLite database."""
        return self.root / DATABASE_FILE

    @property
    def packages_dir(self) -> Path:
        """Return where uploaded model packages are kept."""
        return self.root / PACKAGES_DIR

    @property
    def stacks_dir(self) -> Path:
        """Return where rendered compose files are written."""
        return self.root / STACKS_DIR

    @property
    def spool_dir(self) -> Path:
        """Return the default FILESYSTEM spool directory."""
        return self.root / SPOOL_DIR

    @property
    def logs_dir(self) -> Path:
        """Return where agents and workshop runs write logs."""
        return self.root / LOGS_DIR

    @property
    def traefik_log_dir(self) -> Path:
        """Return the folder traefik writes its access log into (mounted into the traefik container)."""
        return self.root / LOGS_DIR / TRAEFIK_LOG_DIR

    @property
    def traefik_access_log(self) -> Path:
        """Return traefik's access log of failed requests (JSON lines)."""
        return self.traefik_log_dir / TRAEFIK_ACCESS_LOG

    @property
    def agent_dir(self) -> Path:
        """Return the management agent's working folder (plugin configs, lanes)."""
        return self.root / AGENT_DIR

    @property
    def traefik_dir(self) -> Path:
        """Return the folder of traefik's file-provider routes (mounted read-only into traefik)."""
        return self.root / TRAEFIK_DIR

    @property
    def cache_dir(self) -> Path:
        """Return the image build cache."""
        return self.root / CACHE_DIR
