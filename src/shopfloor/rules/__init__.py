"""shopfloor.rules."""
