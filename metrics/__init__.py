"""Metrics; importing this package registers them all."""
