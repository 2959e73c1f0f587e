"""Tests of the bulk-import file parsing in app.imports."""
