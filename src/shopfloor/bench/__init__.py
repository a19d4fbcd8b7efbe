"""shopfloor.bench."""
