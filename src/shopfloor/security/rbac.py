"""Roles, permissions and principals (who is asking, and what they may do).

A permission is ``area:verb`` (``data:read``, ``rules:write``, ``alarms:ack``) or ``public``.
Roles grant patterns (``*:read`` matches every read permission); the admin-only areas
(:data:`ADMIN_AREAS`: users, devices, keys, audit, pki, admin) are granted by the ``admin`` role
only, whatever a pattern says. A permission nobody has listed yet (a new capability's
``maintenance:write``) is therefore already covered: engineers may write it, viewers read it.

>>> viewer = Principal.for_role("ann", "viewer")
>>> viewer.can("data:read"), viewer.can("alarms:ack"), viewer.can("users:read")
(True, False, False)
>>> op = Principal.for_role("otto", "operator", sites=("mill",))
>>> op.can("alarms:ack"), op.can("rules:write"), op.allows_asset("mill/line1"), op.allows_asset("pulp/x")
(True, False, True, False)
>>> eng, root = Principal.for_role("eve", "engineer"), Principal.for_role("root", "admin")
>>> eng.can("rules:write"), eng.can("users:write"), root.can("keys:write")
(True, False, True)
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

PUBLIC = "public"

#: The permissions of the existing routes and capabilities (documentation; others may be added).
PERMISSIONS: dict[str, str] = {
    PUBLIC: "anyone, signed in or not (login page, liveness)",
    "data:read": "assets, tags, latest values, history, export, live stream, dead letters",
    "data:write": "ingest samples over HTTP",
    "alarms:read": "alarm list, journal and metrics",
    "alarms:ack": "acknowledge, shelve, unshelve and comment alarms (operator)",
    "alarms:manage": "take alarms out of service and back (engineer)",
    "rules:read": "read rules",
    "rules:write": "create, change and delete rules",
    "commands:read": "see commands sent to machines",
    "commands:write": "issue commands to machines",
    "commands:approve": "approve commands that need a second person",
    "models:write": "train, deploy and retire models",
    "loops:write": "change control loops and setpoints",
    "kpi:read": "OEE, energy and other KPIs",
    "metrics:read": "Prometheus metrics of the platform",
    "users:read": "list users and API tokens",
    "users:write": "create, change and delete users; issue and revoke API tokens",
    "devices:read": "list devices",
    "devices:write": "provision and revoke devices and their credentials",
    "keys:write": "PKI and signing keys",
    "audit:read": "read and verify the audit log",
    "security:read": "security events of the behaviour monitor",
    "admin": "everything",
}

#: Areas only the admin role is granted.
ADMIN_AREAS = frozenset({"users", "devices", "keys", "audit", "pki", "security", "admin"})

#: Role -> granted permission patterns.
ROLES: dict[str, tuple[str, ...]] = {
    "viewer": (PUBLIC, "*:read"),
    "operator": (PUBLIC, "*:read", "alarms:ack", "commands:approve"),
    "engineer": (PUBLIC, "*:read", "*:write", "alarms:*", "commands:*"),
    "admin": ("*",),
    # machines and scripts: push data only
    "device": (PUBLIC, "data:write"),
}

_PERMISSION = re.compile(r"^(public|admin|[a-z][a-z0-9_-]*:[a-z][a-z0-9_-]*)$")


def check_permission_name(name: str) -> str:
    """Validate a permission name (``area:verb``); returns it.

    >>> check_permission_name("commands:approve")
    'commands:approve'
    >>> check_permission_name("Commands")
    Traceback (most recent call last):
    ...
    ValueError: permission 'Commands' is not 'area:verb' in lower case (e.g. 'data:read')
    """
    if not _PERMISSION.match(name):
        raise ValueError(f"permission {name!r} is not 'area:verb' in lower case (e.g. 'data:read')")
    return name


def role_grants(role: str, permission: str) -> bool:
    """Whether ``role`` holds ``permission``."""
    patterns = ROLES.get(role)
    if patterns is None:
        return False
    if "*" in patterns:
        return True
    area = permission.split(":", 1)[0]
    if area in ADMIN_AREAS:
        return False
    return any(fnmatch.fnmatchcase(permission, p) for p in patterns)


def site_of(asset_path: str) -> str:
    """The site of an asset path: its first segment."""
    return asset_path.strip("/").split("/", 1)[0]


@dataclass(frozen=True)
class Principal:
    """An authenticated user, token or device (or the anonymous demo user).

    ``sites`` None means every site; ``scopes`` (tokens) narrows the role's permissions.
    """

    name: str
    role: str
    kind: str = "user"  # user | token | device | anonymous
    sites: tuple[str, ...] | None = None
    scopes: tuple[str, ...] | None = None
    session_id: str | None = field(default=None, repr=False)
    csrf: str | None = field(default=None, repr=False)

    @classmethod
    def for_role(cls, name: str, role: str, sites: tuple[str, ...] | None = None) -> Principal:
        return cls(name=name, role=role, sites=sites)

    def can(self, permission: str) -> bool:
        if permission == PUBLIC:
            return True
        if not role_grants(self.role, permission):
            return False
        if self.scopes is not None:
            return any(fnmatch.fnmatchcase(permission, s) for s in self.scopes)
        return True

    def allows_asset(self, asset_path: str) -> bool:
        """Whether the asset lies in one of the principal's sites."""
        return self.sites is None or site_of(asset_path) in self.sites

    def permissions(self) -> list[str]:
        """The listed permissions this principal holds (for the dashboard)."""
        return [p for p in PERMISSIONS if self.can(p)]
