"""The filtering Docker API proxy: traefik and the management agent reach the engine only through it."""
