"""Tests of the MLOps service against a real subprocess."""
