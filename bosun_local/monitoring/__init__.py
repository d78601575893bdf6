"""Monitoring agent: reads the spool (RabbitMQ or filesystem), aggregates records and writes them to the service."""
