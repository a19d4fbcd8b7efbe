"""shopfloor.broker."""
