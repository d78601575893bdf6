"""Prediction server (PPS): serve model packages over HTTP, one deployment or a directory of them."""
from __future__ import annotations
