"""OAuth 2.0 machine clients and the token endpoint."""
