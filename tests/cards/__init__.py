"""Tests of the pure card modules in app.cards."""
