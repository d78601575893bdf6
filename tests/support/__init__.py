"""Test helpers shared by the suites and benches (never shipped in the runtime package)."""
