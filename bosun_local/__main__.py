"""Run the bosun-local CLI with `python -m bosun_local`."""
from bosun_local.cli import main

main()
