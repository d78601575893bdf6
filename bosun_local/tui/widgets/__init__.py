"""Panels of the dashboard, one widget per module."""
