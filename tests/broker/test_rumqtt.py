"""The rumqttd broker (iotcore): real clients connect and publish; ingest receives all, in order."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shopfloor.broker.embedded import EmbeddedBroker
from shopfloor.broker.rumqtt import NATIVE_MAX_PACKET, RumqttBroker
from shopfloor.core.assets import Plant
from shopfloor.core.errors import BrokerError
from shopfloor.core.settings import load_settings
from shopfloor.service import Platform

from .conftest import Received, eventually, paho_client

N = 10_000


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.fixture(params=["native", "paho"])
async def rbroker(request: pytest.FixtureRequest, received: Received) -> AsyncIterator[RumqttBroker]:
    b = RumqttBroker("127.0.0.1", 0, on_batch=received, subscriber=request.param)
    await b.start()
    yield b
    await b.stop()


async def test_free_port_and_url(rbroker: RumqttBroker) -> None:
    assert rbroker.port > 0
    assert rbroker.url == f"mqtt://127.0.0.1:{rbroker.port}"
    assert _listening(rbroker.port)
    stats = rbroker.stats()
    assert stats["port"] == rbroker.port and stats["running"] and stats["received"] == 0
    assert stats["broker"] == "rumqttd" and stats["handler_failures"] == 0 and stats["queued"] == 0


@pytest.mark.skipif(shutil.which("mosquitto_pub") is None, reason="mosquitto_pub is not installed")
async def test_mosquitto_pub_10k_in_order(rbroker: RumqttBroker, received: Received) -> None:
    lines = b"".join(b"%d\n" % i for i in range(N))
    proc = await asyncio.create_subprocess_exec(
        "mosquitto_pub",
        *("-h", "127.0.0.1", "-p", str(rbroker.port), "-q", "1", "-t", "shopfloor/v1/s/a/l/m/data", "-l"),
        stdin=subprocess.PIPE,
    )
    await proc.communicate(lines)
    assert proc.returncode == 0
    await eventually(lambda: len(received.messages) >= N)
    assert [int(p) for _, p in received.messages] == list(range(N))
    assert {t for t, _ in received.messages} == {"shopfloor/v1/s/a/l/m/data"}
    assert rbroker.stats()["received"] == N


async def test_paho_10k_in_order_nothing_lost(rbroker: RumqttBroker, received: Received) -> None:
    pub = await paho_client(rbroker.port, "dev-1")
    infos = [pub.publish(f"shopfloor/v1/s/a/l/m/data/t{i % 7}", str(i), qos=1) for i in range(N)]
    await asyncio.to_thread(infos[-1].wait_for_publish, 10)
    pub.publish("elsewhere/x", b"not ours", qos=1).wait_for_publish(5)  # outside the root
    await eventually(lambda: len(received.messages) >= N)
    await asyncio.sleep(0.1)
    assert [int(p) for _, p in received.messages] == list(range(N))
    assert received.messages[8] == ("shopfloor/v1/s/a/l/m/data/t1", b"8")
    pub.disconnect()
    pub.loop_stop()


@pytest.mark.parametrize("subscriber", ["native", "paho"])
async def test_stop_hands_over_what_was_accepted(received: Received, subscriber: str) -> None:
    b = RumqttBroker("127.0.0.1", 0, on_batch=received, subscriber=subscriber)  # type: ignore[arg-type]
    await b.start()
    pub = await paho_client(b.port, "dev-2")
    info = None
    for i in range(2000):
        info = pub.publish("shopfloor/v1/s/a/l/m/data", str(i), qos=1)
    assert info is not None
    await asyncio.to_thread(info.wait_for_publish, 10)
    await b.stop()  # right away: what the broker acked still reaches the handler
    assert [int(p) for _, p in received.messages] == list(range(2000))
    pub.disconnect()
    pub.loop_stop()


async def test_port_in_use_names_the_port(rbroker: RumqttBroker) -> None:
    other = RumqttBroker("127.0.0.1", rbroker.port)
    with pytest.raises(BrokerError, match=f"port {rbroker.port} .*in use"):
        await other.start()
    with socket.socket() as s:  # held by something that is not a broker
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(BrokerError, match=f"port {port} .*in use"):
            await RumqttBroker("127.0.0.1", port).start()


async def test_stop_frees_the_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for _ in range(2):
        b = RumqttBroker("127.0.0.1", port, on_batch=Received())
        await b.start()
        assert b.port == port and _listening(port)
        await b.stop()
        await b.stop()  # twice is fine
        assert not _listening(port)
        assert not b.stats()["running"]
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # connections may linger in TIME_WAIT
        s.bind(("127.0.0.1", port))  # released: nobody listens there any more
    with pytest.raises(BrokerError, match="not started"):
        _ = RumqttBroker().port


async def test_quiet_on_stdout(capfd: pytest.CaptureFixture[str]) -> None:
    async with RumqttBroker("127.0.0.1", 0, on_batch=Received()) as b:
        pub = await paho_client(b.port, "dev-3")
        pub.publish("shopfloor/v1/s/a/l/m/data", b"1", qos=1).wait_for_publish(5)
        pub.disconnect()
        pub.loop_stop()
    out, err = capfd.readouterr()
    assert out == "" and err == ""


@pytest.mark.skipif(shutil.which("mosquitto_pub") is None, reason="mosquitto_pub is not installed")
async def test_too_large_a_message_is_refused_and_ingest_keeps_receiving(received: Received) -> None:
    async with RumqttBroker("127.0.0.1", 0, on_batch=received) as b:  # native: 10 KiB packets

        async def pub(payload: bytes) -> int:
            proc = await asyncio.create_subprocess_exec(
                *("mosquitto_pub", "-p", str(b.port), "-q", "1", "-t", "shopfloor/v1/a/data", "-s"),
                stdin=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            await proc.communicate(payload)
            return proc.returncode or 0

        fits = NATIVE_MAX_PACKET - len("shopfloor/v1/a/data") - 4
        assert await pub(b"x" * fits) == 0
        assert await pub(b"x" * (fits + 1)) != 0  # the broker drops that publisher
        assert await pub(b"after") == 0
        await eventually(lambda: len(received.messages) == 2)
        assert [len(p) for _, p in received.messages] == [fits, 5]


def test_native_subscriber_packet_limit_is_checked() -> None:
    with pytest.raises(BrokerError, match="10240 bytes"):
        RumqttBroker(on_batch=Received(), max_packet_bytes=1 << 20)
    RumqttBroker(on_batch=Received(), max_packet_bytes=1 << 20, subscriber="paho")
    RumqttBroker(max_packet_bytes=1 << 20)  # no subscriber of its own


@pytest.mark.parametrize("kind", ["rumqttd", "amqtt"])
async def test_platform_picks_the_broker_setting(tmp_path: Path, kind: str) -> None:
    settings = load_settings(
        overrides={
            "data_dir": tmp_path,
            "api": {"port": 0},
            "mqtt": {"port": 0, "broker": kind},
            "security": {"profile": "demo"},  # anonymous devices (issue 8: rumqttd has no ACL hook)
        }
    )
    plant = Plant.from_dict({"asset": [{"path": "s/a/l/m", "tag": [{"name": "temp", "unit": "degC"}]}]})
    platform = Platform(settings, plant=plant)
    await platform.start()
    try:
        assert isinstance(platform.broker, RumqttBroker if kind == "rumqttd" else EmbeddedBroker)
        assert platform.mqtt_port
        pub = await paho_client(platform.mqtt_port, "dev-5")
        await asyncio.to_thread(
            pub.publish("shopfloor/v1/s/a/l/m/data/temp", b"21.5", qos=1).wait_for_publish, 5
        )
        await eventually(lambda: platform.pipeline.stats()["accepted"] == 1)
        pub.disconnect()
        pub.loop_stop()
    finally:
        await platform.stop()
