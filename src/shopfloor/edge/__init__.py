"""shopfloor.edge."""
