"""Data files installed as bosun_local.stacks."""
