"""The audit log: append-only, hash-chained events of every sensitive action, without personal data."""
