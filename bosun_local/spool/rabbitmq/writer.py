"""RabbitMQ channel: one record per persistent message on a durable queue, with publisher confirms.

A background thread runs a pika SelectConnection. Records leave the buffer only when the broker
confirms them; unconfirmed ones go back to the head of the buffer when the connection drops, so a
broker outage loses nothing unless the buffer overflows (at least once: a record may be published
twice, and the monitoring agent counts a record id once).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque

import pika
from pika import spec
from pika.adapters.select_connection import SelectConnection

from bosun_local.contracts.rabbitmq import masked_url
from bosun_local.spool.buffer import RecordBuffer
from bosun_local.spool.channel import Channel

log = logging.getLogger("bosun_local.mlops")

# Extra queue arguments; publisher and consumer must declare the queue identically or the broker refuses.
QUEUE_ARGUMENTS: dict[str, object] | None = None
PERSISTENT = 2
_TICK_SEC = 0.2
_GATHER_SEC = 0.005


def connection_parameters(url: str, timeout_sec: float = 5.0) -> pika.URLParameters:
    """Return pika parameters for an amqp:// URL with bounded connect timeouts."""
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.retry_delay = 0
    params.socket_timeout = timeout_sec
    params.stack_timeout = timeout_sec * 2
    params.blocked_connection_timeout = 60
    return params


class RabbitMQChannel(Channel):
    """Publishes buffered records to a RabbitMQ queue from a background thread, reconnecting with backoff."""

    kind = "RABBITMQ"

    def __init__(
        self, url: str, queue_name: str = "mlops", max_in_flight: int = 1000, reconnect_max_sec: float = 10.0,
        exchange: str | None = None, routing_key: str | None = None,
    ) -> None:
        self.url = url
        self.queue_name = queue_name
        # Through an exchange the publisher may lack the right to declare (or even see) the queue.
        self.exchange = exchange or ""
        self.routing_key = (routing_key or queue_name) if exchange else queue_name
        self.max_in_flight = max(1, max_in_flight)
        self.reconnect_max_sec = reconnect_max_sec
        self.params = connection_parameters(url)
        self.connected = threading.Event()
        self.reconnects = 0
        # user_id is checked by the broker against the login: the consumer can trust who published.
        user = self.params.credentials.username if exchange else None
        self._props = pika.BasicProperties(delivery_mode=PERSISTENT, content_type="application/json", user_id=user)
        self._buffer: RecordBuffer | None = None
        self._conn: SelectConnection | None = None
        self._chan: pika.channel.Channel | None = None
        self._ready = False
        self._unconfirmed: deque[tuple[int, str]] = deque()
        self._acked: set[int] = set()
        self._next_tag = 0
        self._stop = threading.Event()
        self._wake_lock = threading.Lock()
        self._wake_pending = False
        self._down_since: float | None = None
        self._thread: threading.Thread | None = None

    # -- thread and connection lifecycle --

    def start(self, buffer: RecordBuffer) -> None:
        """Start the publisher thread."""
        self._buffer = buffer
        buffer.on_put = self._on_put
        self._thread = threading.Thread(target=self._run, name="mlops-rabbitmq-publisher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            self._conn = None
            try:
                self._conn = SelectConnection(
                    self.params,
                    on_open_callback=self._on_connection_open,
                    on_open_error_callback=self._on_connection_error,
                    on_close_callback=self._on_connection_closed,
                )
                self._conn.ioloop.start()
            except Exception as exc:  # a bug or socket error must not kill reporting for the app's lifetime
                self._note_down(f"{type(exc).__name__}: {exc}")
            was_ready = self._ready
            self._ready = False
            self.connected.clear()
            self._requeue_unconfirmed()
            if self._stop.is_set():
                break
            delay = 0.2 if was_ready else min(delay * 2, self.reconnect_max_sec)
            self._stop.wait(delay)

    def _note_down(self, reason: str) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning(
                "mlops RABBITMQ channel to %s unavailable (%s); buffering up to %d records and reconnecting",
                masked_url(self.url), reason, self._buffer.max_records if self._buffer else 0,
            )

    def _on_connection_open(self, conn: SelectConnection) -> None:
        conn.channel(on_open_callback=self._on_channel_open)

    def _on_connection_error(self, conn: SelectConnection, error: BaseException) -> None:
        self._note_down(str(error) or type(error).__name__)
        conn.ioloop.stop()

    def _on_connection_closed(self, conn: SelectConnection, reason: BaseException) -> None:
        if not self._stop.is_set():
            self._note_down(f"connection closed: {reason}")
        conn.ioloop.stop()

    def _on_channel_open(self, chan: pika.channel.Channel) -> None:
        self._chan = chan
        chan.add_on_close_callback(self._on_channel_closed)
        if self.exchange:
            self._on_declared(None)  # the exchange and its binding are the broker owner's (bosun-local up)
            return
        chan.queue_declare(self.queue_name, durable=True, arguments=QUEUE_ARGUMENTS, callback=self._on_declared)

    def _on_channel_closed(self, chan: pika.channel.Channel, reason: BaseException) -> None:
        # e.g. PRECONDITION_FAILED when the queue exists with other arguments: reconnect and retry later
        if not self._stop.is_set():
            self._note_down(f"channel closed: {reason}")
        self._ready = False
        if self._conn is not None and self._conn.is_open:
            self._conn.close()

    def _on_declared(self, _frame: object) -> None:
        assert self._chan is not None
        self._chan.confirm_delivery(self._on_confirm)
        self._next_tag = 0
        with self._wake_lock:
            self._wake_pending = False  # a wake-up sent to the previous connection's loop is lost
        self._ready = True
        self.connected.set()
        if self._down_since is not None:
            log.warning(
                "mlops RABBITMQ channel to %s connected again after %.1f s; %d record(s) buffered",
                masked_url(self.url), time.monotonic() - self._down_since, self._buffer.pending if self._buffer else 0,
            )
            self.reconnects += 1
        self._down_since = None
        self._pump()
        self._schedule_tick()

    def _schedule_tick(self) -> None:
        if self._conn is not None and self._conn.is_open:
            self._conn.ioloop.call_later(_TICK_SEC, self._tick)

    def _tick(self) -> None:
        # Safety net for a lost wake-up; cheap when the buffer is empty.
        self._pump()
        self._schedule_tick()

    # -- publishing --

    def _on_put(self) -> None:
        """Wake the I/O loop from an app thread (at most one pending wake-up)."""
        conn = self._conn
        if conn is None or not self._ready:
            return
        with self._wake_lock:
            if self._wake_pending:
                return
            self._wake_pending = True
        try:
            conn.ioloop.add_callback_threadsafe(self._pump_from_wake)
        except Exception:  # the loop is closing; the next connection pumps the buffer anyway
            with self._wake_lock:
                self._wake_pending = False

    def _pump_from_wake(self) -> None:
        # Let records gather for a few ms: one wake-up then publishes a batch instead of one record,
        # which keeps this thread from taking the GIL from the app once per report_* call.
        if self._conn is not None and self._conn.is_open:
            self._conn.ioloop.call_later(_GATHER_SEC, self._pump_gathered)
        else:
            self._pump_gathered()

    def _pump_gathered(self) -> None:
        with self._wake_lock:
            self._wake_pending = False
        self._pump()

    def _pump(self) -> None:
        if not self._ready or self._chan is None or self._buffer is None:
            return
        room = self.max_in_flight - len(self._unconfirmed)
        if room <= 0:
            return
        batch = self._buffer.take(room)
        first = len(self._unconfirmed)
        for line in batch:
            self._next_tag += 1
            self._unconfirmed.append((self._next_tag, line))
        try:
            for i in range(first, len(self._unconfirmed)):
                self._chan.basic_publish(self.exchange, self.routing_key, self._unconfirmed[i][1].encode(),
                                         self._props)
        except Exception as exc:  # connection dropping: everything unconfirmed is requeued on close
            self._note_down(f"publish failed: {exc}")

    def _on_confirm(self, frame: pika.frame.Method) -> None:
        assert self._buffer is not None
        method = frame.method
        tag, multiple = method.delivery_tag, method.multiple
        if isinstance(method, spec.Basic.Ack):
            done = 0
            if not multiple:
                self._acked.add(tag)
            while self._unconfirmed:
                head = self._unconfirmed[0][0]
                if (multiple and head <= tag) or head in self._acked:
                    self._unconfirmed.popleft()
                    self._acked.discard(head)
                    done += 1
                else:
                    break
            if done:
                self._buffer.done(done)
        else:
            # The broker refused them (e.g. an internal error): publish again later.
            refused = [(t, line) for t, line in self._unconfirmed if (t <= tag if multiple else t == tag)]
            self._unconfirmed = deque(e for e in self._unconfirmed if e not in refused)
            log.warning("mlops RABBITMQ broker refused %d record(s); they are retried", len(refused))
            self._buffer.requeue([line for _, line in refused])
        self._pump()

    def _requeue_unconfirmed(self) -> None:
        if self._buffer is not None and self._unconfirmed:
            self._buffer.requeue([line for _, line in self._unconfirmed])
        self._unconfirmed.clear()
        self._acked.clear()

    # -- shutdown --

    def close(self, timeout: float) -> bool:
        """Wait (up to timeout) until every buffered record is confirmed, then close the connection."""
        assert self._buffer is not None
        self._on_put()
        ok = self._buffer.wait_empty(timeout)
        self._stop.set()
        conn = self._conn
        if conn is not None:
            try:
                conn.ioloop.add_callback_threadsafe(self._close_connection)
            except Exception:  # already closed
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        return ok

    def _close_connection(self) -> None:
        if self._conn is not None and self._conn.is_open:
            self._conn.close()
        elif self._conn is not None:
            self._conn.ioloop.stop()
