"""Tests of shopfloor.broker."""
