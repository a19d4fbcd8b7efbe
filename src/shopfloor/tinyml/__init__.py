"""shopfloor.tinyml."""
