"""Calls: one row per Retell call, assembled from its events in whatever order they come."""
