"""Channels that carry encoded records from the library's buffer to a spool."""
