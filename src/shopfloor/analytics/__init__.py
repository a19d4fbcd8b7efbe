"""shopfloor.analytics."""
