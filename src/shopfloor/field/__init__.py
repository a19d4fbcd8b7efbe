"""Products in the field and what customers say about them, traced back to production.

The service side of :mod:`shopfloor.analytics.fleet` and :mod:`shopfloor.analytics.feedback`:
:mod:`.store` (SQLite records), :mod:`.service` (ingest, genealogy, batch reports),
:mod:`.story` (the end-to-end story on the simulated plant), :mod:`.cli` (``shopfloor field``).
See ``docs/field.md``.
"""
