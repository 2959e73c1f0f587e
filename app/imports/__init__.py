"""Bulk import of credentials from CSV, XLSX and JSON Lines files.

- Job control, and the one owner of every commit of an import: jobs (uploads stores the file first).
- Reading a file: parsing (entry point) → csv_reader, jsonl_reader, xlsx_reader (behind zip_guard), sharing
  tabular, text_lines, formats, columns and raw_rows; template writes the CSV templates.
- Validation: validation_pass (pass 1 over a file) → validation (one row) → fast_checks, whose bounds and
  patterns model_rules reads off the registry models; clean_rows, code_tables; seen (duplicates in a file).
- Committing: committer (the interface), commit_choice (picks the strategy), set_based (PostgreSQL: streamed
  and two-pass), batched (SQLite); staging and scratch (the clean rows between the passes).
- Entry points: routes (HTTP), cli_run (`huren import`).
"""
