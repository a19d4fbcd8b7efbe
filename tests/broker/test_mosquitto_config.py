"""``shopfloor broker mosquitto-config`` run against a real Mosquitto: the ingest account reads
everything and ``$SYS``, a provisioned device publishes only under its own subtree, anonymous
clients are refused, and the queue limits are the generated ones."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

EXE = str(Path(sys.executable).with_name("shopfloor"))
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client(port: int, user: str | None, password: str | None, cid: str) -> tuple[mqtt.Client, list]:
    got: list = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid)
    if user:
        c.username_pw_set(user, password)
    result: list = []
    c.on_connect = lambda cl, u, f, reason, p: result.append(reason)
    c.on_message = lambda cl, u, msg: got.append((msg.topic, msg.payload))
    c.connect("127.0.0.1", port)
    c.loop_start()
    deadline = time.monotonic() + 5
    while not result and time.monotonic() < deadline:
        time.sleep(0.02)
    c._test_connack = result[0] if result else None  # type: ignore[attr-defined]
    return c, got


def test_generated_config_runs_and_enforces(tmp_path: Path) -> None:
    if not Path(MOSQUITTO).exists():
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    data, out, port = tmp_path / "data", tmp_path / "mq", free_port()
    env_args = ["--data-dir", str(data)]
    out.mkdir()
    prefix = ["--topic-prefix", "shopfloor/v1/site/area/line1/cutter"]
    passwd = ["--mosquitto-passwd", str(out / "passwd")]
    added = subprocess.run(
        [EXE, "devices", "add", "cutter-1", *prefix, *env_args, *passwd],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    token = re.search(r"sfd_[A-Za-z0-9_\-]+", added.stdout)
    assert token, added.stdout
    listen = ["--port", str(port), "--host", "127.0.0.1"]
    r = subprocess.run(
        [EXE, "broker", "mosquitto-config", "--out", str(out), *listen, *env_args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    password = re.search(r"mqtt.password = '([^']+)'", r.stdout).group(1)  # type: ignore[union-attr]
    conf = (out / "mosquitto.conf").read_text()
    assert "max_queued_messages 100000" in conf and "allow_anonymous false" in conf
    assert "cutter-1:" in (out / "passwd").read_text()  # the device line survived the rewrite
    # pytest's temporary folders are private to root; a real install keeps the files in
    # /etc/mosquitto, readable by the broker's own user. Here the broker stays root.
    (out / "mosquitto.conf").write_text(conf + "user root\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(out / "mosquitto.conf")], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        anon, _ = client(port, None, None, "anon")
        assert anon._test_connack is None or anon._test_connack.is_failure  # type: ignore[attr-defined]
        anon.loop_stop()
        ingest, got = client(port, "shopfloor-ingest", password, "ingest")
        assert not ingest._test_connack.is_failure  # type: ignore[attr-defined]
        ingest.subscribe([("shopfloor/v1/#", 1), ("$SYS/broker/version", 0)])
        time.sleep(0.3)
        dev, _ = client(port, "cutter-1", token.group(0), "cutter-1")
        assert not dev._test_connack.is_failure  # type: ignore[attr-defined]
        dev.publish(
            "shopfloor/v1/site/area/line1/cutter/data", b'{"values":{"force":1.0}}', qos=1
        ).wait_for_publish(5)
        dev.publish(
            "shopfloor/v1/site/area/line2/press/data", b'{"values":{"force":9.0}}', qos=1
        ).wait_for_publish(5)
        time.sleep(0.5)
        topics = [t for t, _ in got]
        assert "shopfloor/v1/site/area/line1/cutter/data" in topics
        assert "shopfloor/v1/site/area/line2/press/data" not in topics  # outside its subtree: dropped
        assert "$SYS/broker/version" in topics
        for c in (ingest, dev):
            c.loop_stop()
            c.disconnect()
    finally:
        proc.terminate()
        proc.wait(10)
