"""shopfloor.report."""
