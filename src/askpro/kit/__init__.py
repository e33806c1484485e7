"""Shared building blocks; nothing here imports a feature package."""
