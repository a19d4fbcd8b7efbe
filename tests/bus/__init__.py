"""Tests of shopfloor.bus."""
