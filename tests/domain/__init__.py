"""Tests of the pure domain rules in app.domain."""
