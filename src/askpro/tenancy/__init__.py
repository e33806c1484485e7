"""Companies, branches, phone numbers, staff and services."""
