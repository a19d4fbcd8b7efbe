"""Tests of shopfloor.ingest."""
