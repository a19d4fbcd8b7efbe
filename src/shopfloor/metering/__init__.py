"""shopfloor.metering."""
