"""Fixtures of these tests."""

from tests.fixtures.api import api, app

__all__ = ["api", "app"]
