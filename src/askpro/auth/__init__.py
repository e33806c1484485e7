"""API tokens, scopes, the auth dependency, rate limits and the audit log."""
