"""Bulk import of credentials from CSV, XLSX and JSON Lines files."""
