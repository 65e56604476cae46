"""Explainer adapters; importing this package registers them all."""
