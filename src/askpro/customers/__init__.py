"""Customers: identity by E.164 phone number, race-safe find-or-create, merging duplicates."""
