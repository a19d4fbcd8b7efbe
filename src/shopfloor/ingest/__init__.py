"""shopfloor.ingest."""
