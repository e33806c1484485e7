"""Provider integrations."""
