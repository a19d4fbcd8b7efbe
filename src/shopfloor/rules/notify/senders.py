"""Delivery of one notification: webhook (httpx) and email (smtplib in a worker thread).

A sender raises :class:`DeliveryFailed`; ``permanent`` says whether retrying can help
(an HTTP 4xx other than 408/429, an SMTP 5xx) or not.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import time
from email.message import EmailMessage
from typing import Any

import httpx

from ...core.errors import ShopfloorError
from ...core.settings import EmailTarget, WebhookTarget
from .sign import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature

RETRYABLE_HTTP = frozenset({408, 425, 429})


class DeliveryFailed(ShopfloorError):
    """One delivery attempt failed; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class WebhookSender:
    kind = "webhook"

    def __init__(self, target: WebhookTarget) -> None:
        self.target = target
        self.name = target.name
        self.address = target.url
        self._client = httpx.AsyncClient(timeout=target.timeout_s)

    async def close(self) -> None:
        await self._client.aclose()

    async def send(self, note: dict[str, Any], body: bytes) -> None:
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "shopfloor-notify/1",
            TIMESTAMP_HEADER: str(ts),
            DELIVERY_HEADER: str(note["id"]),
        }
        if self.target.secret:
            headers[SIGNATURE_HEADER] = signature(self.target.secret.encode(), ts, body)
        try:
            resp = await self._client.post(self.target.url, content=body, headers=headers)
        except httpx.HTTPError as err:
            raise DeliveryFailed(f"webhook {self.name}: {type(err).__name__}: {err}") from err
        if resp.is_success:
            return
        code = resp.status_code
        permanent = 400 <= code < 500 and code not in RETRYABLE_HTTP
        raise DeliveryFailed(f"webhook {self.name}: HTTP {code} {resp.text[:200]!r}", permanent=permanent)


def email_message(target: EmailTarget, note: dict[str, Any]) -> EmailMessage:
    """The mail for one alarm notification."""
    a = note["alarm"]
    msg = EmailMessage()
    msg["From"] = target.sender
    msg["To"] = ", ".join(target.to)
    msg["Subject"] = (
        f"[{str(a.get('priority', '')).upper()}] {a.get('asset')}: {a.get('message')} ({a.get('event')})"
    )
    msg["X-Shopfloor-Alarm"] = str(a.get("alarm_id"))
    lines = [
        f"Alarm {a.get('alarm_id')}: {a.get('message')}",
        f"Event: {a.get('event')} ({a.get('from_state')} -> {a.get('to_state')})",
        f"Asset: {a.get('asset')}   tag: {a.get('tag')}   value: {a.get('value')}",
        f"Priority: {a.get('priority')}   time (epoch ns): {a.get('ts')}",
    ]
    if note.get("debounced"):
        lines.append(f"{note['debounced']} further transition(s) of this alarm were folded into this one.")
    lines += ["", json.dumps(a, indent=2, default=str)]
    msg.set_content("\n".join(lines))
    return msg


class EmailSender:
    kind = "email"

    def __init__(self, target: EmailTarget) -> None:
        self.target = target
        self.name = target.name
        self.address = f"smtp://{target.host}:{target.port}"

    async def close(self) -> None:
        return None

    async def send(self, note: dict[str, Any], body: bytes) -> None:
        await asyncio.to_thread(self._send, email_message(self.target, note))

    def _send(self, msg: EmailMessage) -> None:
        t = self.target
        try:
            with smtplib.SMTP(t.host, t.port, timeout=t.timeout_s) as smtp:
                if t.starttls:
                    smtp.starttls()
                if t.username:
                    smtp.login(t.username, t.password or "")
                smtp.send_message(msg)
        except smtplib.SMTPResponseException as err:
            raise DeliveryFailed(
                f"email {self.name}: SMTP {err.smtp_code} {err.smtp_error!r}", permanent=err.smtp_code >= 500
            ) from err
        except smtplib.SMTPRecipientsRefused as err:
            raise DeliveryFailed(
                f"email {self.name}: recipients refused: {err.recipients}", permanent=True
            ) from err
        except (smtplib.SMTPException, OSError) as err:
            raise DeliveryFailed(f"email {self.name}: {type(err).__name__}: {err}") from err
