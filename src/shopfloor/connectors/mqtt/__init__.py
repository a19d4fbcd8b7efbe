"""shopfloor.connectors.mqtt."""
