"""shopfloor.evals."""
