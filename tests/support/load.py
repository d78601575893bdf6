"""A bounded prediction load: a few threads looping requests over a changing set of URLs, counting every failure."""
from __future__ import annotations

import threading
import time

import httpx

from tests.agent.packages import ROW


class Load:
    """Loop predictions over a changing set of URLs from a few threads until stopped (bounded by time)."""

    def __init__(self, urls: list[str], threads: int = 3, max_sec: float = 180.0, timeout: float = 30.0) -> None:
        self.threads = threads
        self.urls = list(urls)
        self.timeout = timeout
        self.max_sec = max_sec
        self.ok = 0
        self.failures: list[str] = []
        self.failed_at: list[float] = []  # time.monotonic() of each failure, in the same order
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, slot: int) -> None:
        deadline = time.monotonic() + self.max_sec
        i = slot
        with httpx.Client(timeout=self.timeout) as http:
            while not self._stop.is_set() and time.monotonic() < deadline:
                urls = self.urls
                url = urls[i % len(urls)]
                i += 1
                try:
                    response = http.post(url, json=[ROW])
                    good = response.status_code == 200 and "prediction" in response.text
                    what = f"{url}: HTTP {response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    good, what = False, f"{url}: {type(exc).__name__}: {exc}"
                with self._lock:
                    if good:
                        self.ok += 1
                    else:
                        self.failures.append(what)
                        self.failed_at.append(time.monotonic())

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)
