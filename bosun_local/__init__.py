"""bosun-local: a single-host, open, local MLOps stack."""

__version__ = "0.1.0"
