"""Reading one feedback text: topic, sentiment, urgency, product models and serial numbers.

Topics come from a keyword lexicon (:class:`KeywordTopics`, defaults for board products:
the failure modes ``delamination``, ``edge_crack``, ``warp`` plus ``delivery``, ``billing``,
``question``, ``praise``) or from any trained classifier with ``predict_one`` (for example
:class:`~shopfloor.analytics.feedback.intent.IntentClassifier`). Sentiment is VADER's
compound score (the ``vadersentiment`` package).

>>> a = FeedbackAnalyzer(models=["RB-100", "RB-200"])
>>> r = a.analyze("URGENT: rb100 boards peeling apart, serial L1-20260103-0014-00007!!")
>>> r.topic, r.models, r.serials, r.sentiment, r.urgency
('delamination', ['RB-100'], ['L1-20260103-0014-00007'], 'negative', 'critical')
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

DEFAULT_TOPICS: dict[str, tuple[str, ...]] = {
    "delamination": (r"peel", r"delamin", r"\blayers?\b", r"\bplies\b", r"\bply\b", r"split", r"come apart"),
    "edge_crack": (r"crack", r"crumbl", r"brittle", r"\bbreaks?\b", r"chipped edge"),
    "warp": (r"warp", r"\bcurl", r"\bbow(ed)?\b", r"twist", r"lie flat", r"bends?\b", r"out of shape"),
    "delivery": (r"deliver", r"shipment", r"arriv", r"tracking", r"\blate\b", r"dispatch"),
    "billing": (r"invoice", r"charged", r"\bprice", r"refund", r"\bbill", r"payment"),
    "question": (r"\?", r"datasheet", r"suitable", r"\bhow (do|can|to)\b", r"what is"),
    "praise": (r"great", r"happy", r"thank", r"excellent", r"perfect", r"love"),
}
DEFAULT_COMPLAINTS: tuple[str, ...] = ("delamination", "edge_crack", "warp", "delivery", "billing")
DEFAULT_SERIAL = r"\b[A-Z][A-Z0-9]{0,7}-\d{8}-\d{4}-\d{5}\b"
#: Product-complaint words VADER's general lexicon lacks (valence on its -4..4 scale).
DOMAIN_LEXICON: dict[str, float] = {
    "peeling": -1.8,
    "peel": -1.5,
    "delamination": -2.0,
    "delaminated": -2.0,
    "splitting": -1.5,
    "crack": -1.8,
    "cracks": -1.8,
    "cracked": -2.0,
    "crumble": -1.8,
    "brittle": -1.2,
    "warped": -1.8,
    "warping": -1.8,
    "warp": -1.5,
    "curl": -1.0,
    "bowed": -1.2,
    "twisted": -1.2,
    "late": -1.2,
    "defective": -2.2,
    "faulty": -2.0,
    "refund": -0.8,
    "charged": -0.5,
    "urgent": -1.0,
}
_URGENT = (
    r"urgent",
    r"\basap\b",
    r"immediately",
    r"emergency",
    r"right now",
    r"not acceptable",
    r"unacceptable",
    r"safety",
    r"injur",
    r"\bfire\b",
    r"recall",
    r"lawyer",
    r"legal",
    r"line (is )?down",
    r"production stopped",
    r"!!",
)


class TopicModel(Protocol):
    def predict_one(self, text: str) -> str: ...


class KeywordTopics:
    """Topic = the lexicon entry with the most matching patterns (``other`` when none)."""

    def __init__(self, topics: Mapping[str, Sequence[str]] | None = None) -> None:
        self.topics = {k: [re.compile(p, re.I) for p in v] for k, v in (topics or DEFAULT_TOPICS).items()}

    def predict_one(self, text: str) -> str:
        best, score = "other", 0
        for topic, pats in self.topics.items():
            n = sum(1 for p in pats if p.search(text))
            if n > score:
                best, score = topic, n
        return best


@dataclass(slots=True)
class Reading:
    """What one feedback text says."""

    topic: str
    complaint: bool
    sentiment: str
    sentiment_score: float
    urgency: str
    urgency_score: float
    models: list[str] = field(default_factory=list)
    serials: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def model_pattern(models: Sequence[str]) -> re.Pattern[str] | None:
    """A regex matching any product model, tolerant of case and of a missing or spaced hyphen.

    >>> model_pattern(["RB-100"]).findall("rb100 and RB 100 and RB-1000")
    ['rb100', 'RB 100']
    """
    alts = []
    for m in sorted(models, key=len, reverse=True):
        parts = [re.escape(p) for p in re.split(r"[-\s_]+", m) if p]
        alts.append(r"[-\s_]?".join(parts))
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(alts) + r")(?![A-Za-z0-9])", re.I) if alts else None


class FeedbackAnalyzer:
    """Topic, sentiment, urgency and identifiers of feedback texts (``analyze`` / ``predict_one``)."""

    def __init__(
        self,
        models: Sequence[str] = (),
        topics: TopicModel | None = None,
        complaint_topics: Sequence[str] = DEFAULT_COMPLAINTS,
        serial_pattern: str = DEFAULT_SERIAL,
    ) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.models = list(models)
        self._canon = {re.sub(r"[-\s_]", "", m).lower(): m for m in self.models}
        self._model_re = model_pattern(self.models)
        self._serial_re = re.compile(serial_pattern)
        self.topics: TopicModel = topics or KeywordTopics()
        self.complaint_topics = set(complaint_topics)
        self._vader = SentimentIntensityAnalyzer()
        self._vader.lexicon.update(DOMAIN_LEXICON)
        self._urgent = [re.compile(p, re.I) for p in _URGENT]

    def extract_models(self, text: str) -> list[str]:
        if self._model_re is None:
            return []
        found = (self._canon[re.sub(r"[-\s_]", "", m).lower()] for m in self._model_re.findall(text))
        return list(dict.fromkeys(found))

    def extract_serials(self, text: str) -> list[str]:
        return list(dict.fromkeys(self._serial_re.findall(text)))

    def analyze(self, text: str) -> Reading:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("feedback text must be a non-empty string")
        topic = self.topics.predict_one(text)
        compound = float(self._vader.polarity_scores(text)["compound"])
        sentiment = "negative" if compound <= -0.05 else "positive" if compound >= 0.05 else "neutral"
        complaint = topic in self.complaint_topics
        cues = sum(1 for p in self._urgent if p.search(text))
        caps = sum(1 for w in text.split() if len(w) > 3 and w.isupper())
        score = min(1.0, 0.35 * complaint + 0.3 * max(0.0, -compound) + 0.25 * cues + 0.1 * min(caps, 2))
        level = (
            "critical" if score >= 0.9 else "high" if score >= 0.6 else "medium" if score >= 0.35 else "low"
        )
        return Reading(
            topic,
            complaint,
            sentiment,
            compound,
            level,
            round(score, 3),
            self.extract_models(text),
            self.extract_serials(text),
        )

    def predict_one(self, text: str) -> str:
        return self.analyze(text).topic
