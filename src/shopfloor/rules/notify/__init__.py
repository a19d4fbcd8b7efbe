"""Alarm notifications: signed webhooks and email, debounced, retried, dead-lettered.

- :mod:`.sign`: the HMAC-SHA256 webhook signature (and ``verify`` for receivers);
- :mod:`.senders`: one delivery attempt per channel (httpx, smtplib);
- :mod:`.notifier`: :class:`Notifier`, following the rule engine's ``events``.

See docs/notifications.md.
"""

from .notifier import Notifier
from .senders import DeliveryFailed
from .sign import signature, verify

__all__ = ["DeliveryFailed", "Notifier", "signature", "verify"]
