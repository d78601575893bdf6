"""Data files installed as bosun_local.agent_image."""
