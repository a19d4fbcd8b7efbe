"""shopfloor.analytics: pure compute on samples (no I/O; imports only shopfloor.core).

Subpackages: :mod:`shopfloor.analytics.anomaly` (detectors, thresholds, alarm logic).
"""
