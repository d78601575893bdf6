"""The local SQS server: moto in server mode, with each queue's message operations made atomic and O(1) per message.

moto 5.2's SQS backend runs on a threaded HTTP server but changes a queue's message list without a lock:
`Queue.delete_message` rebuilds the list from a snapshot, so two DeleteMessageBatch calls at once (two agents)
put a deleted message back (in flight, delivered again after its visibility timeout), and a SendMessage racing a
delete can lose the sent message; two ReceiveMessage calls at once can hand one message to both. Here every
call that reads or changes a queue's messages holds that queue's own lock (moto's `_messages_lock`, a condition
on a re-entrant lock: a long poll's wait releases it). And ReceiveMessage checked each returned message's
retention period by building the queue's whole attribute dict three times (each counts every message), so a
receive cost O(queued messages) per message; it now reads the retention period directly.

Run it as `python -m bosun_local.spool.sqs.local_server -H HOST -p PORT` (moto.server's arguments).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

# The backend calls that read or change a queue's messages; each takes the queue name first.
LOCKED_CALLS = ("send_message", "send_message_batch", "receive_message", "delete_message", "delete_message_batch",
                "change_message_visibility", "change_message_visibility_batch", "purge_queue")
_PATCHED = "_bosun_local_patched"


def _locked(call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    def locked(backend: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        with backend.get_queue(queue_name)._messages_lock:
            return call(backend, queue_name, *args, **kwargs)
    return locked


def _retention_ok(backend: Any, queue_name: str, message: Any) -> bool:
    """Return True while a message is within its queue's retention period (moto's rule, without the scans)."""
    from moto.core.utils import unix_time

    retention = int(backend.get_queue(queue_name).message_retention_period)
    return bool(retention + message.sent_timestamp / 1000 > unix_time())


def patch_moto() -> None:
    """Make moto's SQS queue operations atomic and its retention check O(1); fail clearly on an unknown moto."""
    import moto
    from moto.sqs import models

    backend = models.SQSBackend
    missing = [name for name in (*LOCKED_CALLS, "get_queue", "is_message_valid_based_on_retention_period")
               if not hasattr(backend, name)]
    if missing or not moto.__version__.startswith("5."):
        raise RuntimeError(f"moto {moto.__version__} is not the moto 5.x this SQS server patches (missing: "
                           f"{', '.join(missing) or 'none'}); install the version bosun-local pins "
                           "(bosun_local/engine/images.py MOTO_REQUIREMENT)")
    if getattr(backend, _PATCHED, False):
        return
    for name in LOCKED_CALLS:
        setattr(backend, name, _locked(getattr(backend, name)))
    setattr(backend, "is_message_valid_based_on_retention_period", _retention_ok)  # noqa: B010 - mypy: a method
    setattr(backend, _PATCHED, True)


def main(argv: list[str] | None = None) -> None:
    """Patch moto, then run its server with moto.server's command line."""
    patch_moto()
    from moto.server import main as serve

    serve(argv)


if __name__ == "__main__":
    main()
