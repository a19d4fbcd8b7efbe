"""Samples, assets (ISA-95), tags, units, errors, settings and clocks.

This package imports nothing else of shopfloor's; everything else imports it.
"""
