"""The Docker engine: provisioning, the python-on-whales adapter and image builds."""
