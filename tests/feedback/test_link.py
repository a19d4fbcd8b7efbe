"""Complaints linked to batches through serial numbers."""

import numpy as np

from shopfloor.analytics.feedback.link import link_complaints


def test_batch_with_many_complaints_is_flagged() -> None:
    rng = np.random.default_rng(3)
    units = {f"B{i:02d}": 100 for i in range(30)}
    serials = []
    for b in units:
        rate = 0.25 if b == "B13" else 0.04
        serials += [[f"{b}-{k:05d}"] for k in range(rng.poisson(rate * 100))]
    serials += [[]] * 7 + [["ZZ-1"]]  # no serial / unknown serial
    res = link_complaints(serials, lambda s: s.split("-")[0] if s.startswith("B") else None, units)
    assert [b.batch for b in res.flagged] == ["B13"]
    assert res.unresolved == 8
    assert res.to_dict()["batches"][0]["batch"] == "B13"
