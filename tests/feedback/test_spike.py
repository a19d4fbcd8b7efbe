"""The complaint-spike detector on Poisson streams with and without a planted burst."""

import numpy as np

from shopfloor.analytics.feedback.spike import TopicSpikeDetector

H = 3600 * 10**9


def _stream(seed: int, hours: int, rate_per_h: float, topic: str = "warp") -> list[tuple[int, str]]:
    rng = np.random.default_rng(seed)
    n = rng.poisson(rate_per_h * hours)
    return sorted((int(t), topic) for t in rng.uniform(0, hours * H, n))


def test_no_alarm_on_a_steady_stream() -> None:
    det = TopicSpikeDetector(window=6, alpha=1e-4, min_count=5)
    alarms = [a for ts, t in _stream(1, 60 * 24, 0.4) if (a := det.learn_one(ts, t))]
    assert alarms == []
    assert 0.3 < det.baseline("warp") < 0.5


def test_burst_raises_one_alarm_at_once_and_rearms() -> None:
    det = TopicSpikeDetector(window=6, alpha=1e-4, min_count=5)
    events = _stream(2, 30 * 24, 0.3)
    burst_start = 20 * 24 * H
    burst = [(burst_start + i * 5 * 60 * 10**9, "warp") for i in range(12)]  # 12 in an hour
    later = [(27 * 24 * H + i * 5 * 60 * 10**9, "warp") for i in range(12)]
    alarms = [(ts, a) for ts, t in sorted(events + burst + later) if (a := det.learn_one(ts, t))]
    assert len(alarms) == 2
    ts, first = alarms[0]
    assert burst_start <= ts <= burst_start + H  # raised by a message inside the burst
    assert first.topic == "warp" and first.count >= 5 and first.p_value < 1e-4
    assert alarms[1][0] >= 27 * 24 * H
    other = det.learn_one(0, "praise")
    assert other is None


def test_only_watched_topics() -> None:
    det = TopicSpikeDetector(topics={"warp"}, min_count=1)
    assert all(det.learn_one(i, "praise") is None for i in range(100))
