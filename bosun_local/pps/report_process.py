"""Run the reporting sink in a child process, so encoding and spooling reports costs the serving process no CPU.

The serving process is one event loop holding the GIL; a reporting thread in it competes for the GIL on every
request. Here that thread only pickles batches into a pipe; the child owns the reporting library.
"""
from __future__ import annotations

import importlib
import logging
import multiprocessing
import signal
import time
from multiprocessing.connection import Connection
from typing import Any

from bosun_local.pps.reporting import ReportBatch, ReportSink

log = logging.getLogger("bosun_local.pps.reporting")

DEFAULT_FACTORY = "bosun_local.pps.reporting:MLOpsSink"


def _make_sink(factory: str) -> ReportSink:
    module, _, name = factory.partition(":")
    return getattr(importlib.import_module(module), name)()


def _child_main(conn: Connection, factory: str) -> None:
    """Deliver batches from the pipe until told to close (or the parent is gone), then flush."""
    # The parent decides when to stop: a Ctrl-C or SIGTERM sent to the whole group must not cut the flush short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sink = _make_sink(factory)
    counts = {"delivered": 0, "errors": 0}
    last_warning = 0.0
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            sink.close(10.0)
            return
        if isinstance(message, tuple) and message[0] == "close":
            sink.close(float(message[1]))
            conn.send(counts)
            return
        requests = sum(len(batch) for batch in message)
        try:
            sink.deliver(message)
            counts["delivered"] += requests
        except Exception as exc:
            counts["errors"] += requests
            if time.monotonic() - last_warning > 30:
                last_warning = time.monotonic()
                log.warning("reporting failed (%d report(s) lost so far): %s: %s", counts["errors"],
                            type(exc).__name__, exc)


class ProcessSink:
    """A ReportSink that forwards batches to a child process running the real sink."""

    def __init__(self, factory: str = DEFAULT_FACTORY) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe(duplex=True)
        self._process = context.Process(target=_child_main, args=(child_conn, factory), name="pps-reporting")
        self._process.start()
        child_conn.close()
        self.child_counts: dict[str, Any] = {}

    def deliver(self, batches: list[ReportBatch]) -> None:
        """Send batches to the child; raise when it is gone."""
        if not self._process.is_alive():
            raise RuntimeError(f"the reporting process exited (code {self._process.exitcode})")
        self._conn.send(batches)

    def close(self, timeout_sec: float) -> None:
        """Tell the child to flush and exit; kill it if it takes longer than the timeout."""
        deadline = time.monotonic() + timeout_sec
        try:
            if self._process.is_alive():
                self._conn.send(("close", max(0.1, timeout_sec - 1.0)))
                if self._conn.poll(max(0.1, deadline - time.monotonic())):
                    self.child_counts = self._conn.recv()
        except (EOFError, OSError) as exc:
            log.warning("the reporting process did not confirm its flush: %s", exc)
        self._process.join(max(0.1, deadline - time.monotonic()))
        if self._process.is_alive():
            log.warning("the reporting process did not exit within %.1fs; killing it", timeout_sec)
            self._process.kill()
            self._process.join(5)
        self._conn.close()
