"""shopfloor.api."""
