"""Prometheus /metrics for every component: cheap counters on the hot path, text rendered at scrape time."""
