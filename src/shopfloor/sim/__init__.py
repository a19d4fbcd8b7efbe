"""shopfloor.sim."""
