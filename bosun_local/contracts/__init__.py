"""Vocabularies shared by every component; dependency-free (standard library only). See docs/contracts.md."""
