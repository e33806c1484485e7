from tests.fixtures.booking import salon, wide_database
from tests.fixtures.demo import demo, demo_standin

__all__ = ["demo", "demo_standin", "salon", "wide_database"]
