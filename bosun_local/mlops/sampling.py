"""Column-name sanitizing and association-id sampling for aggregated reporting (datarobot-mlops' rules).

Sampling is by hash: a row is sent raw when sha256(association id) falls in the lowest pct % of the hash space,
so an actual reported later is sampled exactly when its prediction was.
"""
from __future__ import annotations

import logging
from hashlib import sha256
from typing import Any

import pandas as pd

from bosun_local.mlops.exceptions import DRCommonException

log = logging.getLogger("bosun_local.mlops")
_HASH_SPACE = 2 ** (sha256().digest_size * 8)


def sanitize(name: Any) -> str:
    """Return a column name with the characters DataRobot does not allow (- $ . { } " newlines) as _."""
    text = str(name) if not isinstance(name, str) else name
    text = text.strip()
    for ch in '-$.{}"\n\r':
        text = text.replace(ch, "_")
    return text


def sanitized_names(names: list[Any]) -> dict[Any, str]:
    """Return original -> sanitized names; raise DRCommonException when two collide or a name is blank."""
    mapping: dict[Any, str] = {}
    seen: dict[str, Any] = {}
    blanks = 0
    for position, name in enumerate(names, 1):
        if name in ("", b""):
            blanks += 1
            if blanks > 1:
                raise DRCommonException(f"Datasets can only contain one unnamed column. A second unnamed column was "
                                        f"found in position {position} in the dataset.")
        elif isinstance(name, str) and name.isspace():
            raise DRCommonException(f"Column in position {position} in the dataset contains only spaces.")
        clean = sanitize(name)
        if clean in seen:
            raise DRCommonException(f"Column named '{name}' conflicts with a different column with name "
                                    f"'{seen[clean]}' once illegal characters are replaced",
                                    fix="rename one of the two columns")
        seen[clean] = name
        mapping[name] = clean
    if "" in mapping:
        mapping[""] = f"Unnamed: {names.index('')}"
    return mapping


def normalize_feature_names(frame: pd.DataFrame | None) -> None:
    """Rename the frame's columns in place to their sanitized names (as datarobot-mlops does to the app's frame)."""
    if frame is not None:
        mapping = sanitized_names(frame.columns.to_list())
        frame.columns = [mapping[c] for c in frame.columns]


def effective_pct(env_pct: float | None, lib_pct: float | None, call_pct: Any) -> float:
    """Return the sampling percent in effect: environment, then set_auto_sampling_percentage, then the call's."""
    from bosun_local.mlops.setters import validate_sampling_percentage

    if env_pct is not None:
        try:
            return validate_sampling_percentage(env_pct)
        except DRCommonException:
            log.warning("ignoring MLOPS_STATS_AGGREGATION_AUTO_SAMPLING_PERCENTAGE=%r: not within 0..100", env_pct)
    if lib_pct is not None:
        return lib_pct
    return validate_sampling_percentage(call_pct)


def sampled(association_id: Any, pct: float) -> bool:
    """Return True when the association id falls in the sampled pct % of the hash space."""
    if pct >= 100.0:
        return True
    digest = int.from_bytes(sha256(str(association_id).encode()).digest(), "big")
    return digest < (pct / 100.0) * _HASH_SPACE


def sample_frame(frame: pd.DataFrame | None, column: str, pct: float) -> pd.DataFrame | None:
    """Return the rows of frame to send raw (None when none: no frame, no percent or no id column)."""
    if frame is None or not pct:
        return None
    if pct == 100.0:
        return frame
    if not isinstance(pct, float) or column not in frame.columns:
        return None
    return frame[frame[column].apply(sampled, pct=pct)]


def hour_of(column: pd.Series, fmt: str) -> pd.Series:
    """Return each row's prediction time (parsed with the strftime format fmt) as epoch seconds of its hour."""
    moments = pd.to_datetime(column, format=fmt, errors="coerce", utc=True)
    seconds = (moments - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return seconds - seconds % 3600
