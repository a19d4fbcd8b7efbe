"""Reading feedback texts: topic, sentiment, urgency, models and serials."""

import pytest

from shopfloor.analytics.feedback.text import FeedbackAnalyzer, KeywordTopics, model_pattern

A = FeedbackAnalyzer(models=["RB-100", "RB-200"])


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("The boards are peeling apart, layers separating", "delamination"),
        ("Edges cracked and crumble when folded", "edge_crack"),
        ("Sheets warped, they curl and will not lie flat", "warp"),
        ("My shipment has not arrived, tracking is stuck", "delivery"),
        ("I was charged twice on the invoice", "billing"),
        ("Is RB-200 suitable for food packaging?", "question"),
        ("Excellent boards, thank you", "praise"),
        ("Hello", "other"),
    ],
)
def test_topics(text: str, topic: str) -> None:
    assert A.analyze(text).topic == topic


def test_sentiment_urgency_and_identifiers() -> None:
    bad = A.analyze(
        "URGENT!! our line is down, RB 200 boards cracked, serials L2-20260104-0021-00003 "
        "and L2-20260104-0021-00004"
    )
    assert bad.complaint and bad.sentiment == "negative"
    assert bad.urgency in ("high", "critical")
    assert bad.models == ["RB-200"]
    assert bad.serials == ["L2-20260104-0021-00003", "L2-20260104-0021-00004"]
    good = A.analyze("Excellent finish on the RB-100, very happy")
    assert good.sentiment == "positive" and not good.complaint and good.urgency == "low"
    assert A.analyze("rb100 and rb-1000 and XRB-100").models == ["RB-100"]  # no partial-word matches


def test_custom_lexicon_and_bad_input() -> None:
    a = FeedbackAnalyzer(
        models=[], topics=KeywordTopics({"noise": [r"noisy|squeak"]}), complaint_topics=["noise"]
    )
    assert a.analyze("The unit is noisy").topic == "noise"
    with pytest.raises(ValueError, match="non-empty"):
        a.analyze("   ")
    assert model_pattern([]) is None
