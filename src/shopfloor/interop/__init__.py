"""shopfloor.interop."""
