"""Users, API tokens and dashboard sessions, in the security database.

- **Users** have a role (:data:`~shopfloor.security.rbac.ROLES`), optionally a list of sites,
  and an argon2id password hash. Failed logins count up; at ``lockout_threshold`` in a row the
  account locks for ``lockout_base_s``, doubling with each further failure (backoff, capped).
- **API tokens** (``sft_<id>_<secret>``) are for machines and scripts: a role, optional sites and
  scopes (permission patterns narrowing the role), an expiry; only their SHA-256 is stored (the
  secret has 256 bits, so a slow hash adds nothing) and the secret is shown once.
- **Sessions** (dashboard): a random id in an HttpOnly cookie (stored hashed) and a CSRF token
  the page sends back in ``X-CSRF-Token`` with every state-changing request.

Everything is read from the database on each request, so revoking a token, disabling a user or
ending a session (also from the CLI, while the platform runs) takes effect at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from ..core.errors import ShopfloorError
from ..core.settings import SecuritySettings
from .audit import AuditLog
from .db import SecurityDB
from .passwords import RateLimiter, check_password_policy, hash_password, lockout_s, verify_password
from .rbac import ROLES, Principal, check_permission_name

NS = 1_000_000_000
TOKEN_PREFIX = "sft_"


class AuthError(ShopfloorError):
    """Authentication failed (wrong credentials, locked, throttled, expired)."""

    def __init__(self, message: str, retry_after_s: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class IdentityError(ShopfloorError):
    """A user, token or session request is invalid (unknown role, duplicate name, ...)."""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sites(raw: str | None) -> tuple[str, ...] | None:
    return None if raw is None else tuple(json.loads(raw))


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise IdentityError(f"unknown role {role!r}: choose from {sorted(ROLES)}")
    return role


@dataclass(frozen=True)
class Session:
    id: str
    csrf: str
    expires_at: int


class Identity:
    """Users, tokens and sessions; methods ending in ``_sync`` block (CLI), the others are async."""

    def __init__(self, db: SecurityDB, audit: AuditLog, settings: SecuritySettings | None = None) -> None:
        self.db = db
        self.audit = audit
        self.settings = settings or SecuritySettings()  # type: ignore[call-arg]
        self.limiter = RateLimiter(limit=self.settings.login_rate_per_min, window_s=60.0)

    # -- users --------------------------------------------------------------------------------

    def add_user_sync(
        self, name: str, password: str, role: str, sites: list[str] | None = None, actor: str = "cli"
    ) -> None:
        _check_role(role)
        if (
            not name
            or len(name) > 64
            or not name.replace("-", "").replace("_", "").replace(".", "").isalnum()
        ):
            raise IdentityError(f"user name {name!r}: use 1-64 letters, digits, '.', '_' or '-'")
        try:
            check_password_policy(password)
        except ValueError as err:
            raise IdentityError(str(err)) from None
        hashed = hash_password(password)

        def add(con: sqlite3.Connection) -> None:
            if con.execute("SELECT 1 FROM users WHERE name=?", (name,)).fetchone():
                raise IdentityError(f"user {name!r} exists")
            con.execute(
                "INSERT INTO users(name, role, sites, password_hash, created_at) VALUES (?,?,?,?,?)",
                (name, role, None if sites is None else json.dumps(sites), hashed, time.time_ns()),
            )

        self.db.call(add, write=True)
        self.audit.append(actor, "user.add", name, detail={"role": role, "sites": sites})

    def set_user_sync(
        self,
        name: str,
        *,
        role: str | None = None,
        sites: list[str] | bool | None = False,
        password: str | None = None,
        disabled: bool | None = None,
        actor: str = "cli",
    ) -> None:
        """Change a user (``sites=False`` leaves the sites; ``None`` means every site)."""
        sets: list[str] = []
        args: list[Any] = []
        detail: dict[str, Any] = {}
        if role is not None:
            sets.append("role=?")
            args.append(_check_role(role))
            detail["role"] = role
        if sites is not False:
            sets.append("sites=?")
            args.append(None if sites is None else json.dumps(sites))
            detail["sites"] = sites
        if password is not None:
            try:
                check_password_policy(password)
            except ValueError as err:
                raise IdentityError(str(err)) from None
            sets += ["password_hash=?", "failures=0", "locked_until=0"]
            args.append(hash_password(password))
            detail["password"] = "changed"
        if disabled is not None:
            sets.append("disabled=?")
            args.append(int(disabled))
            detail["disabled"] = disabled
        if not sets:
            return

        def upd(con: sqlite3.Connection) -> None:
            if con.execute(f"UPDATE users SET {', '.join(sets)} WHERE name=?", (*args, name)).rowcount == 0:
                raise IdentityError(f"no user {name!r}")
            if password is not None or disabled or role is not None:
                con.execute("DELETE FROM sessions WHERE user_name=?", (name,))

        self.db.call(upd, write=True)
        self.audit.append(actor, "user.change", name, detail=detail)

    def delete_user_sync(self, name: str, actor: str = "cli") -> None:
        def rm(con: sqlite3.Connection) -> None:
            if con.execute("DELETE FROM users WHERE name=?", (name,)).rowcount == 0:
                raise IdentityError(f"no user {name!r}")
            con.execute("DELETE FROM sessions WHERE user_name=?", (name,))
            con.execute("UPDATE tokens SET revoked=1 WHERE owner=?", (name,))

        self.db.call(rm, write=True)
        self.audit.append(actor, "user.delete", name)

    def users_sync(self) -> list[dict[str, Any]]:
        rows = self.db.call(
            lambda c: c.execute(
                "SELECT name, role, sites, disabled, failures, locked_until, created_at, last_login "
                "FROM users ORDER BY name"
            ).fetchall()
        )
        return [
            {
                "name": r[0],
                "role": r[1],
                "sites": _sites(r[2]),
                "disabled": bool(r[3]),
                "failures": r[4],
                "locked_until": r[5] or None,
                "created_at": r[6],
                "last_login": r[7],
            }
            for r in rows
        ]

    def user_count_sync(self) -> int:
        return int(self.db.call(lambda c: c.execute("SELECT count(*) FROM users").fetchone()[0]))

    # -- login ----------------------------------------------------------------------------------

    def login_sync(self, name: str, password: str, client: str = "") -> Principal:
        """Check a password; raises :class:`AuthError` (wrong, locked, throttled). Audited."""
        wait = self.limiter.hit(client or "?")
        if wait:
            self.audit.append(name, "login", name, "throttled", {"client": client})
            raise AuthError(f"too many login attempts from {client or 'this client'}", retry_after_s=wait)
        row = self.db.call(
            lambda c: c.execute(
                "SELECT role, sites, password_hash, disabled, failures, locked_until FROM users WHERE name=?",
                (name,),
            ).fetchone()
        )
        now = time.time_ns()
        if row is not None and row[5] > now:
            verify_password(None, password)  # same time as any other answer
            self.audit.append(name, "login", name, "locked", {"client": client})
            raise AuthError("account locked after repeated failures", retry_after_s=(row[5] - now) / NS)
        ok = verify_password(row[2] if row else None, password)
        if row is None or not ok or row[3]:
            if row is not None and not ok:
                failures = row[4] + 1
                lock = lockout_s(
                    failures,
                    self.settings.lockout_threshold,
                    self.settings.lockout_base_s,
                    self.settings.lockout_max_s,
                )
                until = now + int(lock * NS) if lock else 0
                self.db.call(
                    lambda c: c.execute(
                        "UPDATE users SET failures=?, locked_until=?, lockouts=lockouts+? WHERE name=?",
                        (failures, until, int(bool(lock)), name),
                    ),
                    write=True,
                )
                if lock:
                    self.audit.append(
                        name, "lockout", name, "locked", {"failures": failures, "seconds": lock}
                    )
            self.audit.append(name, "login", name, "failed", {"client": client})
            raise AuthError("wrong user name or password")
        self.db.call(
            lambda c: c.execute(
                "UPDATE users SET failures=0, locked_until=0, last_login=? WHERE name=?", (now, name)
            ),
            write=True,
        )
        self.audit.append(name, "login", name, "ok", {"client": client})
        return Principal(name=name, role=row[0], sites=_sites(row[1]))

    async def login(self, name: str, password: str, client: str = "") -> Principal:
        return await asyncio.to_thread(self.login_sync, name, password, client)

    # -- sessions -------------------------------------------------------------------------------

    def new_session_sync(self, user: str) -> Session:
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.time_ns()
        expires = now + int(self.settings.session_ttl_s * NS)

        def add(con: sqlite3.Connection) -> None:
            con.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
            con.execute(
                "INSERT INTO sessions(id_hash, user_name, csrf, created_at, expires_at) VALUES (?,?,?,?,?)",
                (_sha(sid), user, csrf, now, expires),
            )

        self.db.call(add, write=True)
        return Session(sid, csrf, expires)

    async def new_session(self, user: str) -> Session:
        return await asyncio.to_thread(self.new_session_sync, user)

    def session_principal_sync(self, sid: str) -> Principal | None:
        row = self.db.call(
            lambda c: c.execute(
                "SELECT s.user_name, s.csrf, s.expires_at, u.role, u.sites, u.disabled "
                "FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.id_hash=?",
                (_sha(sid),),
            ).fetchone()
        )
        if row is None or row[2] < time.time_ns() or row[5]:
            return None
        return Principal(name=row[0], role=row[3], sites=_sites(row[4]), session_id=sid, csrf=row[1])

    async def session_principal(self, sid: str) -> Principal | None:
        return await asyncio.to_thread(self.session_principal_sync, sid)

    async def end_session(self, sid: str) -> None:
        await self.db.run(
            lambda c: c.execute("DELETE FROM sessions WHERE id_hash=?", (_sha(sid),)), write=True
        )

    # -- API tokens -----------------------------------------------------------------------------

    def new_token_sync(
        self,
        name: str,
        owner: str,
        role: str,
        *,
        sites: list[str] | None = None,
        scopes: list[str] | None = None,
        ttl_days: float | None = 365.0,
        actor: str = "cli",
    ) -> tuple[str, str]:
        """Issue a token; returns ``(token_id, secret)`` — the secret is not stored and shown once."""
        _check_role(role)
        for s in scopes or []:
            if s != "*" and not s.endswith(":*"):
                try:
                    check_permission_name(s)
                except ValueError as err:
                    raise IdentityError(str(err)) from None
        tid = secrets.token_hex(6)
        secret = f"{TOKEN_PREFIX}{tid}_{secrets.token_urlsafe(32)}"
        now = time.time_ns()
        expires = None if ttl_days is None else now + int(ttl_days * 86400 * NS)
        self.db.call(
            lambda c: c.execute(
                "INSERT INTO tokens(id, secret_hash, name, owner, role, sites, scopes, created_at, "
                "expires_at) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    tid,
                    _sha(secret),
                    name,
                    owner,
                    role,
                    None if sites is None else json.dumps(sites),
                    None if scopes is None else json.dumps(scopes),
                    now,
                    expires,
                ),
            ),
            write=True,
        )
        self.audit.append(
            actor,
            "token.issue",
            tid,
            detail={"name": name, "owner": owner, "role": role, "sites": sites, "scopes": scopes},
        )
        return tid, secret

    def token_principal_sync(self, secret: str) -> Principal | None:
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        row = self.db.call(
            lambda c: c.execute(
                "SELECT id, name, role, sites, scopes, expires_at, revoked FROM tokens WHERE secret_hash=?",
                (_sha(secret),),
            ).fetchone()
        )
        if row is None or row[6] or (row[5] is not None and row[5] < time.time_ns()):
            return None
        scopes = None if row[4] is None else tuple(json.loads(row[4]))
        return Principal(
            name=f"token:{row[1]}", role=row[2], kind="token", sites=_sites(row[3]), scopes=scopes
        )

    async def token_principal(self, secret: str) -> Principal | None:
        return await asyncio.to_thread(self.token_principal_sync, secret)

    def revoke_token_sync(self, tid: str, actor: str = "cli") -> None:
        n = self.db.call(
            lambda c: c.execute("UPDATE tokens SET revoked=1 WHERE id=?", (tid,)).rowcount, write=True
        )
        if not n:
            raise IdentityError(f"no token {tid!r}")
        self.audit.append(actor, "token.revoke", tid)

    def tokens_sync(self) -> list[dict[str, Any]]:
        rows = self.db.call(
            lambda c: c.execute(
                "SELECT id, name, owner, role, sites, scopes, created_at, expires_at, revoked "
                "FROM tokens ORDER BY created_at"
            ).fetchall()
        )
        keys = ("id", "name", "owner", "role", "sites", "scopes", "created_at", "expires_at", "revoked")
        out = []
        for r in rows:
            d = dict(zip(keys, r, strict=True))
            d["sites"], d["scopes"], d["revoked"] = (
                _sites(d["sites"]),
                _sites(d["scopes"]),
                bool(d["revoked"]),
            )
            out.append(d)
        return out
