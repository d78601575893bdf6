"""Run the service: `python -m bosun_local.service [--host H] [--port P]` (what tests and containers start)."""
from __future__ import annotations

import argparse
import sys

from bosun_local.errors import BosunError
from bosun_local.service.server import run


def main() -> None:
    """Parse host and port and serve."""
    parser = argparse.ArgumentParser(prog="python -m bosun_local.service")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    try:
        run(args.host, args.port)
    except BosunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
