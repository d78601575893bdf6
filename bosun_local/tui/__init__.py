"""Textual dashboard of bosun-local: environment health, deployments, events and actions (`bosun-local dashboard`)."""
