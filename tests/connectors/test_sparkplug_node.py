"""The pure Sparkplug B edge node: births, aliases, seq, bdSeq, deaths and commands."""

from __future__ import annotations

import pytest

from shopfloor.connectors.sparkplug.codec import DataType, Metric, Payload, decode, encode, value_of
from shopfloor.connectors.sparkplug.converter import BDSEQ, REBIRTH
from shopfloor.connectors.sparkplug.node import EdgeNode, NotBorn, UndefinedMetric


def make() -> EdgeNode:
    node = EdgeNode("mill.converting", "line1", clock_ms=lambda: 5_000)
    node.define("uptime_s", DataType.Int64, value=0)
    node.define("force", DataType.Double, device="cutter", value=1.5)
    node.define("running", DataType.Boolean, device="cutter")
    node.define("speed", DataType.Float, device="press")
    return node


def values(data: bytes) -> dict[str, object]:
    return {m.name: value_of(m, m.datatype) for m in decode(data).metrics}  # type: ignore[misc]


def test_births_carry_definitions_aliases_and_bdseq() -> None:
    node = make()
    will_topic, will = node.will()
    assert will_topic == "spBv1.0/mill.converting/NDEATH/line1"
    assert values(will) == {BDSEQ: 0}
    assert decode(will).seq is None
    msgs = node.birth()
    assert [t for t, _ in msgs] == [
        "spBv1.0/mill.converting/NBIRTH/line1",
        "spBv1.0/mill.converting/DBIRTH/line1/cutter",
        "spBv1.0/mill.converting/DBIRTH/line1/press",
    ]
    nbirth = decode(msgs[0][1])
    assert nbirth.seq == 0 and nbirth.timestamp == 5_000
    assert values(msgs[0][1]) == {BDSEQ: 0, REBIRTH: False, "uptime_s": 0}
    by_name = {m.name: m for m in nbirth.metrics}
    assert by_name["uptime_s"].alias == 1 and by_name["uptime_s"].datatype == DataType.Int64
    cutter = decode(msgs[1][1])
    assert cutter.seq == 1
    assert [(m.name, m.alias, m.datatype) for m in cutter.metrics] == [
        ("force", 2, DataType.Double),
        ("running", 3, DataType.Boolean),
    ]
    assert values(msgs[1][1]) == {"force": 1.5, "running": None}
    assert decode(msgs[2][1]).seq == 2


def test_data_uses_aliases_only_and_counts_seq_with_wrap() -> None:
    node = make()
    node.will()
    node.birth()
    t, data = node.data({"force": 812.5, "running": True}, device="cutter", ts_ms=4_000)
    assert t == "spBv1.0/mill.converting/DDATA/line1/cutter"
    p = decode(data)
    assert p.seq == 3
    assert [(m.name, m.alias, m.datatype, m.timestamp) for m in p.metrics] == [
        (None, 2, None, 4_000),
        (None, 3, None, 4_000),
    ]
    assert [
        value_of(m, dt) for m, dt in zip(p.metrics, (DataType.Double, DataType.Boolean), strict=True)
    ] == [
        812.5,
        True,
    ]
    seqs = [decode(node.data({"uptime_s": i})[1]).seq for i in range(300)]
    assert seqs[:2] == [4, 5] and seqs[251] == 255 and seqs[252] == 0 and max(seqs) == 255
    # a rebirth reports the latest values
    births = node.birth()
    assert values(births[0][1])["uptime_s"] == 299
    assert values(births[1][1]) == {"force": 812.5, "running": True}
    assert decode(births[0][1]).seq == 0


def test_will_starts_a_new_session_with_the_next_bdseq() -> None:
    node = make()
    assert [values(node.will()[1])[BDSEQ] for _ in range(3)] == [0, 1, 2]
    assert not node.born
    with pytest.raises(NotBorn):
        node.data({"uptime_s": 1})
    assert values(node.birth()[0][1])[BDSEQ] == 2
    node.bd_seq = 255
    assert values(node.will()[1])[BDSEQ] == 0
    assert values(node.death()[1])[BDSEQ] == 0


def test_errors_name_the_metric() -> None:
    node = make()
    node.will()
    node.birth()
    with pytest.raises(UndefinedMetric, match="'nope'"):
        node.data({"nope": 1})
    with pytest.raises(UndefinedMetric, match="'ghost'"):
        node.data({"x": 1}, device="ghost")
    with pytest.raises(ValueError, match="already defined"):
        node.define("force", DataType.Double, device="cutter")
    with pytest.raises(ValueError, match="without"):
        EdgeNode("a/b", "n")
    seq = node.seq
    with pytest.raises(Exception, match="outside"):
        node.data({"uptime_s": 2**64})
    assert node.seq == seq, "a refused value must not use up a seq"


def test_define_after_birth_asks_for_a_rebirth() -> None:
    node = make()
    node.will()
    node.birth()
    node.define("new", DataType.Int32, device="cutter")
    assert node.needs_rebirth
    node.birth()
    assert not node.needs_rebirth


def test_historical_flag_and_timestamps() -> None:
    node = make()
    node.will()
    node.birth()
    _, data = node.data([("uptime_s", 1, 100), ("uptime_s", 2, 200)], historical=True)
    p = decode(data)
    assert [(m.timestamp, m.is_historical) for m in p.metrics] == [(100, True), (200, True)]


def test_device_death() -> None:
    node = make()
    node.will()
    node.birth()
    t, data = node.device_death("press")
    assert t == "spBv1.0/mill.converting/DDEATH/line1/press"
    assert decode(data).seq == 3


def command(name: str, metrics: list[Metric]) -> tuple[str, bytes]:
    return name, encode(Payload(metrics, 1), with_datatypes=True)


def test_rebirth_command_gives_fresh_births() -> None:
    node = make()
    node.will()
    node.birth()
    node.data({"uptime_s": 7})
    cmd = node.command(
        *command(
            "spBv1.0/mill.converting/NCMD/line1", [Metric(REBIRTH, datatype=DataType.Boolean, value=True)]
        )
    )
    assert cmd.rebirth and not cmd.errors
    assert [t.split("/")[2] for t, _ in cmd.replies] == ["NBIRTH", "DBIRTH", "DBIRTH"]
    assert decode(cmd.replies[0][1]).seq == 0 and values(cmd.replies[0][1])["uptime_s"] == 7
    assert node.seq == 3


def test_write_commands_and_bad_ones() -> None:
    node = make()
    node.will()
    node.birth()
    cmd = node.command(
        *command(
            "spBv1.0/mill.converting/DCMD/line1/cutter",
            [
                Metric("force", datatype=DataType.Double, value=900.0),
                Metric(alias=3, datatype=DataType.Boolean, value=False),
                Metric("unknown", datatype=DataType.Double, value=1.0),
                Metric(alias=1, datatype=DataType.Int64, value=5),  # a node metric, not the cutter's
            ],
        )
    )
    assert not cmd.rebirth and cmd.replies == []
    assert cmd.writes == {"force": 900.0, "running": False}
    assert len(cmd.errors) == 2 and "'unknown'" in cmd.errors[0]
    with pytest.raises(Exception, match="not a command for"):
        node.command("spBv1.0/other/NCMD/line1", b"")
    with pytest.raises(Exception, match="not a Sparkplug B payload"):
        node.command("spBv1.0/mill.converting/NCMD/line1", b"\xff")
