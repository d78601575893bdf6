"""The spool between the reporting library and the monitoring agents: one module per transport, a registry."""
