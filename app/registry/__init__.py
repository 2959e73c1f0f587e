"""The registry: credentials of the three kinds, their holders and issuers, and status changes."""
