"""Pure domain rules: document numbers, codes, credential status and masking (no I/O)."""
