"""Streaming scoring on the platform: per-asset anomaly scores and health as derived tags.

The ``analytics`` role subscribes to the accepted samples, assembles each asset's samples into
rows (one per timestamp), learns the asset's normal operation from its first rows (or loads the
asset's latest model from the :class:`~shopfloor.scoring.registry.ModelRegistry`) and then scores
every row. Scores go back on the bus as samples of derived tags, so they are stored, charted,
streamed live and alarmed on by rules like any sensor:

* ``anomaly_score``: the MEWMA score (1.0 = as far as normal operation went in training);
* ``health``: 100 at or below 1.0, falling as 100 / score above it;
* ``anomaly_top``: the sensors furthest from normal (standard deviations), when the score is high;
* ``rul_h``, ``rul_low_h``, ``rul_high_h``: remaining useful life and its 90 % interval in hours,
  from the score's growth extrapolated to ``failure_score``
  (:class:`~shopfloor.analytics.maintenance.trend.DegradationTrend`), every 10 rows while the
  score grows.

The pure compute lives in :mod:`shopfloor.analytics.anomaly`; this package is the service side.
"""
