"""Stacks: pure rendering of templates into compose files, and the environment stack's lifecycle."""
