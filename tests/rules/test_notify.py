"""Notifications against real receivers: an HTTP server (stdlib) and an SMTP server (aiosmtpd)
on free loopback ports, fed by a real RuleEngine over a MemoryBus. No transport mocks."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from shopfloor.bus.memory import MemoryBus
from shopfloor.core.assets import Plant
from shopfloor.core.sample import Sample
from shopfloor.core.settings import EmailTarget, NotifySettings, WebhookTarget
from shopfloor.rules import RuleEngine, load_rules_text
from shopfloor.rules.notify import Notifier, verify
from shopfloor.store.state import StateStore

from .conftest import CUTTER, T0

SECRET = "s3cret"
RULES = f"""
[[rule]]
id = "force_high"
asset = "{CUTTER}"
tag = "cutting_force"
kind = "high"
limit = 1600
priority = "high"
message = "force {{value:.0f}} N"
"""


class Receiver:
    """A webhook receiver: answers with the scripted status codes, then 200; keeps every request."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[tuple[dict[str, str], bytes]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.requests.append((dict(self.headers.items()), body))
                code = owner.statuses.pop(0) if owner.statuses else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(statuses: list[int] | None = None) -> Receiver:
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for r in made:
        r.close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, Mailbox]]:
    box = Mailbox()
    ctl = Controller(box, hostname="127.0.0.1", port=free_port())
    ctl.start()
    try:
        yield ctl, box
    finally:
        ctl.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


class Rig:
    def __init__(self, plant: Plant, state: StateStore, settings: NotifySettings) -> None:
        self.bus = MemoryBus()
        self.engine = RuleEngine(plant, self.bus, state, load_rules_text(RULES), tick_s=60)
        self.notifier = Notifier(settings, self.bus, state)
        self.state = state

    async def __aenter__(self) -> Rig:
        await self.engine.start()
        await self.notifier.start()
        return self

    async def __aexit__(self, *_exc: Any) -> None:
        await self.notifier.stop()
        await self.engine.stop()
        await self.bus.close()

    async def force(self, *values: float) -> None:
        await self.bus.publish(
            "samples", [Sample(CUTTER, "cutting_force", T0 + i, v) for i, v in enumerate(values)]
        )


def fast(**kw: Any) -> NotifySettings:
    return NotifySettings(**{"attempts": 3, "backoff_s": 0.01, "backoff_max_s": 0.05, "debounce_s": 0, **kw})


async def test_signed_webhook_on_alarm(
    plant: Plant, state: StateStore, receiver: Callable[..., Receiver]
) -> None:
    r = receiver()
    hook = WebhookTarget(name="ops", url=r.url, secret=SECRET)
    async with Rig(plant, state, fast(webhook=[hook])) as rig:
        await rig.force(1700.0)
        await until(lambda: len(r.requests) == 1)
        await rig.force(1500.0)
        await until(lambda: len(r.requests) == 2)
    (h1, b1), (_h2, b2) = r.requests
    assert verify(SECRET.encode(), h1["X-Shopfloor-Timestamp"], h1["X-Shopfloor-Signature"], b1)
    assert not verify(b"wrong", h1["X-Shopfloor-Timestamp"], h1["X-Shopfloor-Signature"], b1)
    note = json.loads(b1)
    assert note["type"] == "alarm_notification" and h1["X-Shopfloor-Delivery"] == note["id"]
    assert (note["alarm"]["event"], note["alarm"]["message"], note["alarm"]["priority"]) == (
        "activate",
        "force 1700 N",
        "high",
    )
    assert json.loads(b2)["alarm"]["event"] == "clear"


async def test_flapping_alarm_is_debounced(
    plant: Plant, state: StateStore, receiver: Callable[..., Receiver]
) -> None:
    r = receiver()
    hook = WebhookTarget(name="ops", url=r.url)
    async with Rig(plant, state, fast(webhook=[hook], debounce_s=1.0)) as rig:
        await rig.force(*[1700.0, 1500.0] * 10)  # 20 transitions in one burst
        await until(lambda: len(r.requests) == 2)
        await asyncio.sleep(0.05)
    notes = [json.loads(b) for _, b in r.requests]
    assert len(notes) == 2, notes
    assert (notes[0]["alarm"]["event"], notes[0]["debounced"]) == ("activate", 0)
    # the follow-up carries the latest state and the 18 transitions folded before it
    assert (notes[1]["alarm"]["event"], notes[1]["debounced"]) == ("clear", 18)
    assert rig.notifier.counts["debounced"] == 19


async def test_retries_then_dead_letter(
    plant: Plant, state: StateStore, receiver: Callable[..., Receiver]
) -> None:
    flaky = receiver([503, 500])  # two failures, then accepted
    dead = receiver([500, 500, 500])  # every attempt fails
    rejecting = receiver([401])  # permanent: not retried
    settings = fast(
        webhook=[
            WebhookTarget(name="flaky", url=flaky.url, events=["activate"]),
            WebhookTarget(name="dead", url=dead.url, events=["activate"]),
            WebhookTarget(name="rejecting", url=rejecting.url, events=["activate"]),
        ]
    )
    async with Rig(plant, state, settings) as rig:
        await rig.force(1700.0)
        await until(lambda: rig.notifier.counts["dead_lettered"] == 2 and rig.notifier.counts["sent"] == 1)
    assert (len(flaky.requests), len(dead.requests), len(rejecting.requests)) == (3, 3, 1)
    letters = await state.dead_letters(reason="notification_failed")
    by_target = {d["topic"]: d for d in letters}
    assert set(by_target) == {"dead", "rejecting"}
    assert "HTTP 500" in by_target["dead"]["error"] and "3 attempts" in by_target["dead"]["error"]
    assert "HTTP 401" in by_target["rejecting"]["error"] and "permanent" in by_target["rejecting"]["error"]
    assert by_target["dead"]["source"] == "notify:webhook"
    assert json.loads(by_target["dead"]["payload"])["alarm"]["event"] == "activate"


async def test_email_and_priority_filter(
    plant: Plant, state: StateStore, smtp: tuple[Controller, Mailbox], tmp_path: Path
) -> None:
    ctl, box = smtp
    mail = EmailTarget(
        name="shift", host="127.0.0.1", port=ctl.port, to=["shift@mill.example"], min_priority="high"
    )
    critical_only = EmailTarget(
        name="boss", host="127.0.0.1", port=ctl.port, to=["boss@mill.example"], min_priority="critical"
    )
    async with Rig(plant, state, fast(email=[mail, critical_only])) as rig:
        await rig.force(1700.0)
        await until(lambda: len(box.messages) == 1)
        await asyncio.sleep(0.05)
    assert len(box.messages) == 1  # the high alarm does not reach the critical-only target
    msg = message_from_bytes(box.messages[0])
    assert msg["To"] == "shift@mill.example"
    assert msg["Subject"] == f"[HIGH] {CUTTER}: force 1700 N (activate)"
    assert "force_high@" in msg["X-Shopfloor-Alarm"]


async def test_unreachable_smtp_is_dead_lettered(plant: Plant, state: StateStore) -> None:
    mail = EmailTarget(name="shift", host="127.0.0.1", port=free_port(), to=["a@b.example"], timeout_s=2)
    async with Rig(plant, state, fast(email=[mail], attempts=2)) as rig:
        await rig.force(1700.0)
        await until(lambda: rig.notifier.counts["dead_lettered"] == 1)
    (letter,) = await state.dead_letters(reason="notification_failed")
    assert letter["source"] == "notify:email" and "2 attempts" in letter["error"]
