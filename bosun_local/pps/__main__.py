"""Run the prediction server: `python -m bosun_local.pps` (the container command)."""
from __future__ import annotations

from bosun_local.pps.server import main

main()
