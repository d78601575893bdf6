"""Run the prediction server: `python -m bosun_local.pps` (the container command)."""
from __future__ import annotations

from bosun_local.pps.server import main

# The guard matters: the reporting child process is spawned and re-imports the main module.
if __name__ == "__main__":
    main()
