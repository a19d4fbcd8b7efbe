"""shopfloor.connectors."""
