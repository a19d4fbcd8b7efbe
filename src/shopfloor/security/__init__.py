"""shopfloor.security."""
