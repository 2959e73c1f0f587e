"""Verification: itemised, signed answers about credentials, with cross-region recognition."""
