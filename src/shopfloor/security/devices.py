"""The device registry: per-device credentials and MQTT topic ACLs.

A device has an id, a topic prefix (its own subtree, e.g. ``shopfloor/v1/mill/pm1/press``),
a token (stored as SHA-256, shown once) and/or an X.509 client certificate from shopfloor's CA
(its serial is recorded). With its credentials a device may publish only under
``<prefix>/#`` and subscribe only to its command subtree ``<root>/cmd/<prefix below root>/#``.
Revoking a device takes effect at its next connect or publish: the broker asks the registry
every time (no restart).

>>> topic_allowed("shopfloor/v1/mill/pm1/press", "shopfloor/v1/mill/pm1/press/telemetry")
True
>>> topic_allowed("shopfloor/v1/mill/pm1/press", "shopfloor/v1/mill/pm1/press2/x")
False
>>> topic_allowed("shopfloor/v1/mill/pm1/press", "shopfloor/v1/mill/pm1/+")
False
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from .audit import AuditLog
from .db import SecurityDB
from .identity import IdentityError

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_PREFIX = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")


def topic_allowed(prefix: str, topic: str) -> bool:
    """Whether ``topic`` (no wildcards) lies in the subtree ``prefix``."""
    if "+" in topic or "#" in topic or "\x00" in topic:
        return False
    return topic == prefix or topic.startswith(prefix + "/")


def command_prefix(prefix: str, topic_root: str = "shopfloor/v1") -> str:
    """The command subtree a device may subscribe to: ``<root>/cmd/<its path below root>``."""
    below = prefix[len(topic_root) + 1 :] if prefix.startswith(topic_root + "/") else prefix
    return f"{topic_root}/cmd/{below}"


def subscribe_allowed(prefix: str, topic_filter: str, topic_root: str = "shopfloor/v1") -> bool:
    """A device may subscribe to its command subtree only (a trailing ``#`` is fine)."""
    cmd = command_prefix(prefix, topic_root)
    f = topic_filter[:-2] if topic_filter.endswith("/#") else topic_filter
    return "+" not in f and "#" not in f and (f == cmd or f.startswith(cmd + "/"))


@dataclass(frozen=True)
class Device:
    id: str
    topic_prefix: str
    site: str | None
    revoked: bool
    cert_serial: str | None = None
    description: str = ""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class DeviceRegistry:
    """Devices in the security database; blocking methods (wrap in ``to_thread`` on the loop)."""

    def __init__(self, db: SecurityDB, audit: AuditLog, topic_root: str = "shopfloor/v1") -> None:
        self.db = db
        self.audit = audit
        self.topic_root = topic_root

    def provision(
        self,
        device_id: str,
        topic_prefix: str | None = None,
        *,
        site: str | None = None,
        description: str = "",
        actor: str = "cli",
    ) -> str:
        """Register a device; returns its token (shown once). Default prefix: ``<root>/<id>``."""
        if not _ID.match(device_id):
            raise IdentityError(f"device id {device_id!r}: use letters, digits, '.', '_' or '-' (max 128)")
        prefix = (topic_prefix or f"{self.topic_root}/{device_id}").strip("/")
        if not _PREFIX.match(prefix):
            raise IdentityError(f"topic prefix {prefix!r}: no wildcards, empty levels or odd characters")
        token = f"sfd_{secrets.token_urlsafe(32)}"

        def add(con: sqlite3.Connection) -> None:
            if con.execute("SELECT 1 FROM devices WHERE id=?", (device_id,)).fetchone():
                raise IdentityError(f"device {device_id!r} exists (revoke it, or use a new id)")
            con.execute(
                "INSERT INTO devices(id, topic_prefix, site, token_hash, created_at, description) "
                "VALUES (?,?,?,?,?,?)",
                (device_id, prefix, site, _sha(token), time.time_ns(), description),
            )

        self.db.call(add, write=True)
        self.audit.append(actor, "device.provision", device_id, detail={"topic_prefix": prefix, "site": site})
        return token

    def set_certificate(self, device_id: str, serial: str, actor: str = "cli") -> None:
        n = self.db.call(
            lambda c: c.execute("UPDATE devices SET cert_serial=? WHERE id=?", (serial, device_id)).rowcount,
            write=True,
        )
        if not n:
            raise IdentityError(f"no device {device_id!r}")
        self.audit.append(actor, "device.certificate", device_id, detail={"serial": serial})

    def revoke(self, device_id: str, actor: str = "cli") -> None:
        n = self.db.call(
            lambda c: c.execute("UPDATE devices SET revoked=1 WHERE id=?", (device_id,)).rowcount, write=True
        )
        if not n:
            raise IdentityError(f"no device {device_id!r}")
        self.audit.append(actor, "device.revoke", device_id)

    def get(self, device_id: str) -> Device | None:
        row = self.db.call(
            lambda c: c.execute(
                "SELECT id, topic_prefix, site, revoked, cert_serial, description FROM devices WHERE id=?",
                (device_id,),
            ).fetchone()
        )
        return None if row is None else Device(row[0], row[1], row[2], bool(row[3]), row[4], row[5])

    def list(self) -> list[dict[str, Any]]:
        rows = self.db.call(
            lambda c: c.execute(
                "SELECT id, topic_prefix, site, revoked, cert_serial, description, created_at "
                "FROM devices ORDER BY id"
            ).fetchall()
        )
        keys = ("id", "topic_prefix", "site", "revoked", "cert_serial", "description", "created_at")
        return [dict(zip(keys, r, strict=True)) | {"revoked": bool(r[3])} for r in rows]

    def authenticate(self, device_id: str, token: str) -> Device | None:
        """The device when ``token`` is its token and it is not revoked."""
        row = self.db.call(
            lambda c: c.execute(
                "SELECT token_hash FROM devices WHERE id=? AND revoked=0", (device_id,)
            ).fetchone()
        )
        if row is None or row[0] is None or not secrets.compare_digest(row[0], _sha(token)):
            return None
        return self.get(device_id)

    @staticmethod
    def mosquitto_password_line(device_id: str, token: str, iterations: int = 101) -> str:
        """A Mosquitto 2 ``password_file`` line (PBKDF2-SHA512, ``$7$``) for a device's token.

        The token is shown once, at provisioning: write the line then (``shopfloor devices add
        --mosquitto-passwd FILE``).
        """
        salt = secrets.token_bytes(12)
        digest = hashlib.pbkdf2_hmac("sha512", token.encode("utf-8"), salt, iterations)
        b64 = base64.b64encode
        return f"{device_id}:$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"

    def mosquitto_acl(self) -> str:
        """A Mosquitto ``acl_file``: each active device may write only its subtree.

        The username of each device is its id (``password_file`` or certificate CN).
        """
        lines = ["# generated by shopfloor (`shopfloor devices acl`); do not edit by hand", ""]
        for d in self.list():
            if d["revoked"]:
                continue
            lines += [
                f"user {d['id']}",
                f"topic write {d['topic_prefix']}/#",
                f"topic write {d['topic_prefix']}",
                f"topic read {command_prefix(d['topic_prefix'], self.topic_root)}/#",
                "",
            ]
        return "\n".join(lines)
