"""A management agent's identity: stable across restarts on one host, never shared by two live processes."""
from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from bosun_local.errors import BosunError

# More management agents than this on one host and one data dir is a misconfiguration, not a load to serve.
MAX_SLOTS = 64


class AgentIdentity:
    """Hold slot N of `<agent dir>/identity/`: id `mgmt-<host>-<N>`; the lock dies with the process."""

    def __init__(self, agent_id: str, lock: IO[bytes] | None) -> None:
        self.agent_id = agent_id
        self._lock = lock

    @classmethod
    def claim(cls, agent_dir: Path, host: str | None = None) -> AgentIdentity:
        """Take the lowest free slot, so a restarted agent (same host, slot freed by its death) gets its old id.

        The id names the leases the agent holds: reusing it lets a restarted agent take back its own unfinished
        actions at once, and the lock guarantees no live agent ever shares it.
        """
        host = host or socket.gethostname()
        directory = agent_dir / "identity"
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BosunError(f"cannot create {directory} for the agent's identity lock: {exc}",
                             fix="make the data dir writable by the user the agent runs as") from exc
        for slot in range(MAX_SLOTS):
            path = directory / f"{host}-{slot}.lock"
            handle = open(path, "ab")  # noqa: SIM115 - held open for the process's life: the lock is the identity
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n".encode())
            handle.flush()
            return cls(f"mgmt-{host}-{slot}", handle)
        raise BosunError(f"{MAX_SLOTS} management agents already run on host {host} with data dir {agent_dir.parent}",
                         fix="stop some of them, or give this one its own --agent-id")

    def release(self) -> None:
        """Give the slot up (the process's exit does the same)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None
