from tests.fixtures.booking import salon, wide_database

__all__ = ["salon", "wide_database"]
