"""Talent cards at the counter: status lists, signed credentials and card tokens verifiable offline."""
