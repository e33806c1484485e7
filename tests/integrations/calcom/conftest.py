from tests.fixtures.calcom import calcom_client, calcom_settings, calcom_standin

__all__ = ["calcom_client", "calcom_settings", "calcom_standin"]
