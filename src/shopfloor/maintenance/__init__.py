"""Maintenance on the platform side: plan files, work orders and the ``shopfloor maintenance`` CLI.

The planning itself is pure compute in :mod:`shopfloor.analytics.maintenance.planning`.
"""
