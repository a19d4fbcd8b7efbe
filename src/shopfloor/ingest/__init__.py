"""Ingest: decode, validate, resolve asset/tag, publish samples; dead-letter what is wrong.

See :mod:`shopfloor.ingest.pipeline` and ``docs/ingest.md`` for the contract.
"""
