"""Fixtures of these tests."""

from tests.fixtures.api import api, app
from tests.fixtures.booking import salon

__all__ = ["api", "app", "salon"]
