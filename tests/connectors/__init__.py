"""Tests of shopfloor.connectors."""
