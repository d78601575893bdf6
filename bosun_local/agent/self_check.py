"""The agent's own health: can it reach the service and (through its plugin) the engine, resolve host names?"""
from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from bosun_local.agent.reporting import Reporter
from bosun_local.client import ServiceClient
from bosun_local.contracts.liveness import mark_unwell
from bosun_local.errors import BosunError

log = logging.getLogger(__name__)
# A check that takes longer than this is a failure: a hung resolver or engine stalls every action behind it.
CHECK_TIMEOUT_SEC = 8.0
# Probes in a row that must fail before the agent turns red.
FAILURES_TO_TURN_RED = 2


def within(seconds: float, fn: Callable[[], Any]) -> str | None:
    """Run fn in a thread; return its error text, a timeout note, or None when it finished in time."""
    outcome: list[str | None] = []

    def run() -> None:
        try:
            fn()
            outcome.append(None)
        except BosunError as exc:
            outcome.append(exc.message)
        except Exception as exc:  # any failure of the probe is the finding, whatever its type
            outcome.append(f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=run, daemon=True, name="self-check-probe")
    thread.start()
    thread.join(seconds)
    return outcome[0] if outcome else f"no answer within {seconds:g} s"


def host_names(urls: list[str]) -> list[str]:
    """Return the host names (not IP literals) in these URLs, each once."""
    names: list[str] = []
    for url in urls:
        host = urlsplit(url).hostname if url else None
        if not host or host in names:
            continue
        try:
            ipaddress.ip_address(host)
        except ValueError:
            names.append(host)
    return names


class SelfCheck:
    """Probe the service, the engine and name resolution; turn the agent's health red with an event on failure."""

    def __init__(self, client: ServiceClient, reporter: Reporter, urls: list[str],
                 job_probe: Callable[[], list[str]] = list) -> None:
        self.client = client
        self.reporter = reporter
        self.names = host_names(urls)
        # What the agent's own loops found (the engine through its plugin, a stalled check): the agent never
        # talks to the engine itself.
        self.job_probe = job_probe
        self.problems: list[str] = []
        self._since: str | None = None
        self._pending: list[tuple[str, str, str, dict[str, Any], str]] = []
        self._failed_in_a_row = 0

    def probe(self) -> list[str]:
        """Return what is wrong now (empty when the agent can do its job)."""
        problems = []
        for name in self.names:
            failed = within(CHECK_TIMEOUT_SEC, lambda n=name: socket.getaddrinfo(n, None))  # type: ignore[misc]
            if failed:
                problems.append(f"cannot resolve host name {name!r}: {failed}")
        failed = within(CHECK_TIMEOUT_SEC, self.client.health)
        if failed:
            problems.append(f"cannot reach the MLOps service at {self.client.url}: {failed}")
        return problems + self.job_probe()

    def tick(self) -> None:
        """Probe once; on a change, mark the agent (un)well and tell the service (later, if it cannot hear now)."""
        problems = self.probe()
        self._failed_in_a_row = self._failed_in_a_row + 1 if problems else 0
        if problems and not self.problems and self._failed_in_a_row < FAILURES_TO_TURN_RED:
            return  # one slow answer on a loaded host is not an outage
        if bool(problems) != bool(self.problems):
            self._changed(problems)
        self.problems = problems
        mark_unwell("; ".join(problems) if problems else None)
        self._flush()

    def _changed(self, problems: list[str]) -> None:
        now = datetime.now(UTC).isoformat()
        agent = self.reporter.agent_id
        event: tuple[str, str, str, dict[str, Any], str]
        if problems:
            log.error("management agent unhealthy: %s", "; ".join(problems))
            event = ("agent_unhealthy", "failing", f"management agent {agent} cannot do its job: {'; '.join(problems)}",
                     {"agentId": agent, "problems": problems}, now)
        else:
            log.info("management agent healthy again")
            event = ("agent_healthy", "passing", f"management agent {agent} is healthy again "
                     f"(unhealthy since {self._since})", {"agentId": agent, "unhealthySince": self._since}, now)
        self._since = now
        self._pending.append(event)

    def _flush(self) -> None:
        """Record the changes not yet told, oldest first, at the time they happened (the service may have been away)."""
        while self._pending:
            type_, status, message, data, when = self._pending[0]
            try:
                self.client.post_event(type_, status, message[:19000], data=data, time_=when)
            except BosunError as exc:
                log.warning("cannot record %s yet (recorded once the service answers): %s", type_, exc.message)
                return
            self._pending.pop(0)
