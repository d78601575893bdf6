"""SQS channel of the reporting library: records sent from a background thread, several per message.

datarobot-mlops sends one record per message (`MLOPS_SQS_MAX_RECORDS_PER_MESSAGE=1` does the same here);
by default we pack up to 1000 JSON-line records into one message (SQS's limit is 256 KiB), because every
SQS call costs a round trip and the monitoring agent reads either shape. A packed message is compressed
(`z:` + base64 of zlib, MLOPS_SQS_COMPRESS): records of one app repeat their keys, so a message shrinks
about eightfold, and every byte is paid again by the SQS server (on a local moto server, most of its CPU
goes to copying and scanning message text), the network and the agent. A record leaves the buffer only
after SQS accepted its message; a failed call keeps the rest buffered for a retry (at least once: a record
may be sent twice, and the agent counts a record id once).
"""
from __future__ import annotations

import base64
import hashlib
import logging
import zlib
from typing import Any

from bosun_local.spool.channel import ChannelUnavailable, ThreadedChannel
from bosun_local.spool.sqs.queues import MAX_PAYLOAD_BYTES, make_client

log = logging.getLogger("bosun_local.mlops")

DEFAULT_RECORDS_PER_MESSAGE = 1000
# SendMessageBatch takes at most 10 entries.
_BATCH_ENTRIES = 10
# Room for the request's own envelope within the 256 KiB payload limit.
_MESSAGE_LIMIT = MAX_PAYLOAD_BYTES - 1024
# Starts a compressed body; a JSON record starts with "{".
COMPRESSED_PREFIX = "z:"


def compressed(lines: list[str]) -> list[tuple[str, int]]:
    """Return (body, records) pairs of the lines compressed, halving the lines until each body fits a message."""
    body = COMPRESSED_PREFIX + base64.b64encode(zlib.compress("\n".join(lines).encode(), 1)).decode("ascii")
    if len(body) <= _MESSAGE_LIMIT or len(lines) == 1:
        return [(body, len(lines))]
    half = len(lines) // 2
    return compressed(lines[:half]) + compressed(lines[half:])


def pack(lines: list[str], records_per_message: int, compress: bool = False) -> list[tuple[str, int]]:
    """Return (message body, records in it) pairs: JSON lines joined by newlines, each body under the size limit.

    A record that alone exceeds the limit gets a body of its own; the caller refuses it. With compress, messages
    of more than one record are compressed, and the size limit applies to the compressed body.
    """
    if compress and records_per_message > 1:
        return [message for start in range(0, len(lines), records_per_message)
                for message in compressed(lines[start:start + records_per_message])]
    messages: list[tuple[str, int]] = []
    current: list[str] = []
    size = 0
    for line in lines:
        length = len(line.encode()) + 1
        if current and (len(current) >= records_per_message or size + length > _MESSAGE_LIMIT):
            messages.append(("\n".join(current), len(current)))
            current, size = [], 0
        current.append(line)
        size += length
    if current:
        messages.append(("\n".join(current), len(current)))
    return messages


class SqsChannel(ThreadedChannel):
    """Sends buffered records to one SQS queue with SendMessageBatch calls."""

    kind = "SQS"

    def __init__(self, queue_url: str, records_per_message: int = DEFAULT_RECORDS_PER_MESSAGE,
                 batch_size: int = 1000, client: Any = None, compress: bool = True) -> None:
        super().__init__(batch_size=batch_size, retry_max_sec=5.0)
        self.queue_url = queue_url
        self.records_per_message = max(1, records_per_message)
        self.compress = compress
        self.fifo = queue_url.endswith(".fifo")
        self.client = client or make_client(queue_url)
        self.messages_sent = 0
        self.oversize = 0

    def write_batch(self, lines: list[str]) -> None:
        """Send the records in order; raise ChannelUnavailable saying how many at the head were sent."""
        written = 0
        call: list[tuple[str, int]] = []
        call_bytes = 0
        for body, count in pack(lines, self.records_per_message, self.compress):
            length = len(body.encode())
            if call and (len(call) == _BATCH_ENTRIES or call_bytes + length > _MESSAGE_LIMIT):
                written += self._send(call, written)
                call, call_bytes = [], 0
            if length > _MESSAGE_LIMIT:
                self.oversize += 1
                written += count
                log.error("mlops SQS channel: a record of %d bytes exceeds SQS's 256 KiB message limit and is "
                          "dropped (%d so far); lower MLOPS_FEATURE_DATA_ROWS_IN_ONE_MESSAGE", length, self.oversize)
                continue
            call.append((body, count))
            call_bytes += length
        if call:
            self._send(call, written)

    def _send(self, call: list[tuple[str, int]], written: int) -> int:
        """Send one SendMessageBatch; return its records, or raise with the records written before the failure."""
        entries = []
        for index, (body, _count) in enumerate(call):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": body}
            if self.fifo:
                entry["MessageGroupId"] = "mlops"
                entry["MessageDeduplicationId"] = hashlib.sha256(body.encode()).hexdigest()
            entries.append(entry)
        try:
            response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except Exception as exc:  # connection refused, throttled, credentials: all mean "retry later"
            raise ChannelUnavailable(f"SQS queue {self.queue_url}: {exc}", written) from exc
        failed = {int(f["Id"]) for f in response.get("Failed", [])}
        if failed:
            first = min(failed)
            done = sum(count for _body, count in call[:first])
            reason = next(f for f in response["Failed"] if int(f["Id"]) == first)
            raise ChannelUnavailable(f"SQS queue {self.queue_url} refused a message: {reason.get('Message')}",
                                     written + done)
        self.messages_sent += len(call)
        return sum(count for _body, count in call)
