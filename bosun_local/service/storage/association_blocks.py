"""A record's association ids and predictions as one block row, and the in-memory index of first predictions.

One indexed row per id cost the service 1.2-1.9 µs per id for ids that sort together and 5-19 µs for random ids
(UUIDs), most of it SQLite's B-tree insert. A block row per record costs ~0.1 µs per id whatever the ids look
like; which block holds an id's first prediction is kept in memory (rebuilt from the blocks at start, caught up
inside each write transaction, so replicas on one PostgreSQL database see each other's blocks). When an actual
finds its prediction, a matched row goes to association_rows, where accuracy, waiting counts and retention read.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

# An index value: the block id shifted by POS_BITS plus the position in it. Ids whose prediction is a row of
# association_rows (stored before blocks existed, joined to an actual that came first, or compacted) need none:
# rows win over blocks wherever both hold an id.
POS_BITS = 24
MAX_BLOCK_ROWS = 1 << POS_BITS
# Decoded blocks kept for joining actuals: actuals arrive in batches of a few blocks' predictions.
_CACHED_BLOCKS = 64
# The columns encode() returns, in its order.
BLOCK_FIELDS = ("first_ms", "last_ms", "n", "ids", "times", "predictions", "labels", "probs", "class_set")


def split(value: int) -> tuple[int, int]:
    """Return (block id, position) of an index value."""
    return value >> POS_BITS, value & (MAX_BLOCK_ROWS - 1)


def encode(shared: Mapping[str, Any], columns: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """Return the block columns of a record's prediction values (shared ones and those given per row)."""
    ids = columns["association_id"]
    times = columns.get("predicted_ms")
    if times is not None:
        stamps = np.asarray(times, dtype=np.int64)
        first, last, packed = int(stamps.min()), int(stamps.max()), stamps.tobytes()
    else:
        first = last = int(shared["predicted_ms"])
        packed = None
    probs = columns.get("probs")
    return {"first_ms": first, "last_ms": last, "n": len(ids), "ids": orjson.dumps(ids).decode(), "times": packed,
            "predictions": orjson.dumps(columns["prediction"]).decode() if "prediction" in columns else None,
            "labels": orjson.dumps(columns["label"]).decode() if "label" in columns else None,
            "probs": b"".join(probs) if probs is not None else None, "class_set": shared.get("class_set")}


@dataclass
class Block:
    """A decoded block: what each position predicted."""

    received_s: int
    first_ms: int
    times: np.ndarray | None
    predictions: list[Any] | None
    labels: list[Any] | None
    probs: bytes | None
    width: int  # bytes of one row's probabilities
    class_set: int | None

    @classmethod
    def from_row(cls, row: Any) -> Block:
        """Decode a block row (received_s, first_ms, n, times, predictions, labels, probs, class_set)."""
        n = int(row["n"])
        probs = bytes(row["probs"]) if row["probs"] is not None else None
        return cls(int(row["received_s"]), int(row["first_ms"]),
                   np.frombuffer(bytes(row["times"]), dtype=np.int64) if row["times"] is not None else None,
                   orjson.loads(row["predictions"]) if row["predictions"] is not None else None,
                   orjson.loads(row["labels"]) if row["labels"] is not None else None,
                   probs, len(probs) // n if probs else 0, row["class_set"])

    def take(self, positions: np.ndarray) -> dict[str, list[Any]]:
        """Return the columns of a matched row (PREDICTION_COLUMNS) at these positions."""
        n = len(positions)
        at = positions.tolist()
        predictions, labels, probs, width = self.predictions, self.labels, self.probs, self.width
        return {"predicted_ms": self.times[positions].tolist() if self.times is not None else [self.first_ms] * n,
                "prediction": [predictions[p] for p in at] if predictions is not None else [None] * n,
                "label": [labels[p] for p in at] if labels is not None else [None] * n,
                "probs": [probs[p * width:(p + 1) * width] for p in at] if probs is not None else [None] * n,
                "class_set": [self.class_set] * n,
                # Retention counts from when the prediction came, as for a prediction row.
                "received_s": [self.received_s] * n}

    def predicted_ms(self, pos: int) -> int:
        """Return when the prediction at a position was made (epoch ms)."""
        return int(self.times[pos]) if self.times is not None else self.first_ms

    def prediction(self, pos: int) -> Any:
        return self.predictions[pos] if self.predictions is not None else None

    def label(self, pos: int) -> Any:
        return self.labels[pos] if self.labels is not None else None


# The columns of association_rows a block fills in a matched row (Block.take).
PREDICTION_COLUMNS = ("predicted_ms", "prediction", "label", "probs", "class_set", "received_s")
# The columns Block.from_row reads.
BLOCK_READ = "received_s, first_ms, n, times, predictions, labels, probs, class_set"


@dataclass
class BlockIndex:
    """Per deployment key, association id -> the index value of its first prediction; and recent decoded blocks."""

    maps: dict[int, dict[str, int]] = field(default_factory=dict)
    seen: int = 0  # the highest block id read into maps
    cache: OrderedDict[int, Block] = field(default_factory=OrderedDict)
    # The blocks with ids indexed, oldest first: block id -> (deployment key, ids indexed); and their total.
    held: OrderedDict[int, tuple[int, int]] = field(default_factory=OrderedDict)
    size: int = 0

    @classmethod
    def build(cls, conn: Any) -> BlockIndex:
        """Read the first predictions of every block not compacted, in the order they were written."""
        index = cls()
        index.catch_up(conn)
        return index

    def catch_up(self, conn: Any) -> None:
        """Read the blocks written since the last look (by another replica, or before a restart)."""
        for row in conn.execute("SELECT id, dep, ids FROM association_blocks WHERE id > ? AND compacted = 0 "
                                "ORDER BY id", (self.seen,)):
            self.add(int(row[1]), int(row[0]), orjson.loads(row[2]))

    def add(self, dep: int, block_id: int, ids: Sequence[str]) -> int:
        """Index a block's ids whose first prediction it holds; return how many."""
        known = self.maps.setdefault(dep, {})
        before = len(known)
        base, n = block_id << POS_BITS, len(ids)
        # Built in reverse, so an id repeated in the block keeps its first position; then added in one C call
        # when no id is known yet (the usual case), else one by one keeping what is known.
        block = dict(zip(reversed(ids), range(base + n - 1, base - 1, -1), strict=True))
        if known.keys().isdisjoint(block):
            known.update(block)
        else:
            setdefault = known.setdefault
            for association_id, value in block.items():
                setdefault(association_id, value)
        self.seen = max(self.seen, block_id)
        added = len(known) - before
        if added:
            self.held[block_id] = (dep, added)
            self.size += added
        return added

    def drop(self, block_id: int, dep: int, ids: Sequence[str] | None) -> list[int]:
        """Forget the ids a block holds first (its ids; None when its row is gone); return their positions."""
        self.cache.pop(block_id, None)
        held = self.held.pop(block_id, None)
        known = self.maps.get(dep)
        if held is None or known is None:
            return []
        self.size -= held[1]
        base = block_id << POS_BITS
        if ids is None:  # purged by another replica: find the block's entries
            mine = [(i, value - base) for i, value in known.items() if value >> POS_BITS == block_id]
        else:
            mine = [(i, pos) for pos, i in enumerate(ids) if known.get(i) == base | pos]
        for association_id, _pos in mine:
            del known[association_id]
        return [pos for _i, pos in mine]

    def blocks(self, conn: Any, block_ids: Iterable[int]) -> dict[int, Block]:
        """Return decoded blocks by id, from the cache or the database."""
        found: dict[int, Block] = {}
        missing = []
        for block_id in set(block_ids):
            block = self.cache.get(block_id)
            if block is None:
                missing.append(block_id)
            else:
                self.cache.move_to_end(block_id)
                found[block_id] = block
        for start in range(0, len(missing), 500):
            chunk = missing[start:start + 500]
            for row in conn.execute(f"SELECT id, {BLOCK_READ} FROM association_blocks WHERE id IN "
                                    f"({', '.join('?' * len(chunk))})", chunk):
                block = found[int(row["id"])] = Block.from_row(row)
                self.cache[int(row["id"])] = block
        while len(self.cache) > _CACHED_BLOCKS:
            self.cache.popitem(last=False)
        return found
