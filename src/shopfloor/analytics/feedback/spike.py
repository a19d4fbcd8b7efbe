"""Near-real-time detection of a spike in one complaint topic.

Messages arrive one by one (``learn_one(ts_ns, topic)``). Per topic the detector keeps counts
in time buckets (default one hour) and an exponentially weighted baseline rate per bucket
(updated when a bucket closes, frozen while the topic is in alarm). When the count over the
last ``window`` buckets is improbably high for a Poisson process at the baseline rate
(upper tail below ``alpha``) and at least ``min_count``, the message that crossed the line
returns a :class:`SpikeAlarm` at once. The topic re-arms when a closed window falls back
under the threshold.

>>> det = TopicSpikeDetector(bucket_s=3600, window=6, min_count=4)
>>> H = 3600 * 10**9
>>> alarms = [det.learn_one(h * H, "warp") for h in range(0, 48, 8)]  # background: 1 per 8 h
>>> alarms += [det.learn_one(50 * H + i * 60 * 10**9, "warp") for i in range(6)]  # 6 in 6 min
>>> [a.topic for a in alarms if a]
['warp']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from scipy import stats

NS = 1_000_000_000


@dataclass(slots=True)
class SpikeAlarm:
    """A topic whose recent count is far above its baseline."""

    topic: str
    ts_ns: int
    count: int
    expected: float
    p_value: float
    window_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class _Topic:
    bucket: int
    counts: dict[int, int] = field(default_factory=dict)
    rate: float = 0.0
    seen_buckets: int = 0
    in_alarm: bool = False


class TopicSpikeDetector:
    """Poisson-EWMA spike detector over topic counts (river-style ``learn_one``)."""

    def __init__(
        self,
        bucket_s: float = 3600.0,
        window: int = 6,
        halflife_buckets: float = 72.0,
        alpha: float = 1e-3,
        min_count: int = 5,
        prior_rate: float = 0.1,
        topics: set[str] | None = None,
    ) -> None:
        if bucket_s <= 0 or window < 1 or not 0 < alpha < 1 or halflife_buckets <= 0:
            raise ValueError("bucket_s > 0, window >= 1, 0 < alpha < 1 and halflife_buckets > 0 are required")
        self.bucket_ns = int(bucket_s * NS)
        self.window = window
        self.decay = 0.5 ** (1.0 / halflife_buckets)
        self.alpha = alpha
        self.min_count = min_count
        self.prior_rate = prior_rate
        self.topics = topics
        self._state: dict[str, _Topic] = {}
        self.alarms: list[SpikeAlarm] = []

    def _advance(self, st: _Topic, bucket: int) -> None:
        """Close buckets up to ``bucket`` (exclusive), updating the baseline."""
        while st.bucket < bucket:
            c = st.counts.get(st.bucket, 0)
            if not st.in_alarm:
                # running mean at first, then exponential forgetting
                w = max(1.0 / (st.seen_buckets + 1), 1.0 - self.decay)
                st.rate += w * (c - st.rate)
                st.seen_buckets += 1
            st.bucket += 1
            if st.in_alarm and self._window_count(st, st.bucket - 1) <= self._threshold(st):
                st.in_alarm = False
            for old in [b for b in st.counts if b <= st.bucket - self.window - 1]:
                del st.counts[old]

    def _window_count(self, st: _Topic, last: int) -> int:
        return sum(n for b, n in st.counts.items() if last - self.window < b <= last)

    def _expected(self, st: _Topic) -> float:
        return max(st.rate, self.prior_rate) * self.window

    def _threshold(self, st: _Topic) -> float:
        return float(stats.poisson.isf(self.alpha, self._expected(st)))

    def learn_one(self, ts_ns: int, topic: str) -> SpikeAlarm | None:
        """Count one message; returns an alarm when this message makes its topic spike."""
        if self.topics is not None and topic not in self.topics:
            return None
        bucket = int(ts_ns // self.bucket_ns)
        st = self._state.get(topic)
        if st is None:
            st = self._state[topic] = _Topic(bucket)
        if bucket < st.bucket - self.window:
            return None  # far too late to matter for the live window
        self._advance(st, bucket)
        b = min(bucket, st.bucket)
        st.counts[b] = st.counts.get(b, 0) + 1
        count = self._window_count(st, st.bucket)
        expected = self._expected(st)
        p = float(stats.poisson.sf(count - 1, expected))
        if not st.in_alarm and count >= self.min_count and p < self.alpha:
            st.in_alarm = True
            alarm = SpikeAlarm(topic, ts_ns, count, expected, p, self.window * self.bucket_ns / NS)
            self.alarms.append(alarm)
            return alarm
        return None

    def baseline(self, topic: str) -> float:
        """Baseline messages per bucket of a topic (0 if never seen)."""
        st = self._state.get(topic)
        return st.rate if st else 0.0
