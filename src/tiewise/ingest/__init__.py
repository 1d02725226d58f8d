"""tiewise.ingest."""
