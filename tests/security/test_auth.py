"""Login, sessions with CSRF, lockout with backoff, tokens, site scoping, demo profile."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from shopfloor.core.errors import ConfigError
from shopfloor.core.settings import load_settings
from shopfloor.security.identity import AuthError, IdentityError

from ..api.conftest import serving
from .conftest import PASSWORD, Secured, secure_platform


async def test_nothing_without_credentials(secured: Secured) -> None:
    async with httpx.AsyncClient(base_url=secured.base) as c:
        r = await c.get("/api/v1/latest")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert (
            await c.get("/api/v1/latest", headers={"Authorization": "Bearer sft_nope_x"})
        ).status_code == 401
        assert (await c.get("/api/v1/latest", headers={"Authorization": "Basic b2xnYTp4"})).status_code == 401
        assert (await c.post("/api/v1/ingest", content=b"[]")).status_code == 401
        assert (await c.get("/metrics")).status_code == 401
        health = (await c.get("/api/v1/health")).json()
        assert health == {"status": "ok", "security": health["security"]} and health["security"]["secured"]
        me = (await c.get("/api/v1/auth/me")).json()
        assert me["authenticated"] is False and me["profile"] == "secure"
        page = await c.get("/")
        assert page.status_code == 200 and "app.js" in page.text  # the page itself shows the login form


async def test_login_session_cookie_and_csrf(secured: Secured) -> None:
    async with httpx.AsyncClient(base_url=secured.base) as c:
        bad = await c.post("/api/v1/auth/login", json={"username": "olga", "password": "wrong password"})
        assert bad.status_code == 401 and "session" not in bad.headers.get("set-cookie", "")
        nobody = await c.post("/api/v1/auth/login", json={"username": "nobody", "password": "x"})
        assert nobody.status_code == 401 and nobody.json()["detail"] == bad.json()["detail"]
        r = await c.post("/api/v1/auth/login", json={"username": "olga", "password": PASSWORD})
        assert r.status_code == 200, r.text
        cookie = r.headers.get_list("set-cookie")
        session = next(x for x in cookie if x.startswith("shopfloor_session="))
        assert "HttpOnly" in session and "SameSite=strict" in session.replace("Strict", "strict")
        body = r.json()
        assert body["role"] == "operator" and "alarms:ack" in body["permissions"] and body["csrf"]
        assert (await c.get("/api/v1/latest")).status_code == 200
        assert (await c.get("/api/v1/auth/me")).json()["name"] == "olga"
        # state-changing request with the cookie: CSRF header required
        no_csrf = await c.post("/api/v1/alarms/nope/ack", json={"user": "olga"})
        assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"]
        wrong = await c.post("/api/v1/alarms/nope/ack", json={"user": "olga"}, headers={"X-CSRF-Token": "x"})
        assert wrong.status_code == 403
        ok = await c.post(
            "/api/v1/alarms/nope/ack", json={"user": "olga"}, headers={"X-CSRF-Token": body["csrf"]}
        )
        assert ok.status_code == 404  # past authorization: the alarm does not exist
        # an operator may not write rules, even with the right CSRF token
        rule = await c.post("/api/v1/rules", json={}, headers={"X-CSRF-Token": body["csrf"]})
        assert rule.status_code == 403 and "rules:write" in rule.json()["detail"]
        await c.post("/api/v1/auth/logout")
        assert (await c.get("/api/v1/latest")).status_code == 401
    records = await asyncio.to_thread(secured.platform.audit.records, 50, "login")
    outcomes = [(r["target"], r["outcome"]) for r in records]
    assert ("olga", "ok") in outcomes and ("olga", "failed") in outcomes and ("nobody", "failed") in outcomes


async def test_stolen_session_id_is_useless_after_logout_and_password_change(secured: Secured) -> None:
    ident = secured.platform.security.identity
    session = await ident.new_session("vic")
    cookies = {"shopfloor_session": session.id}
    async with httpx.AsyncClient(base_url=secured.base, cookies=cookies) as c:
        assert (await c.get("/api/v1/assets")).status_code == 200
        await asyncio.to_thread(lambda: ident.set_user_sync("vic", password="another long secret"))
        assert (await c.get("/api/v1/assets")).status_code == 401


async def test_lockout_with_backoff(tmp_path: Path) -> None:
    platform = secure_platform(
        tmp_path / "data", lockout_threshold=3, lockout_base_s=30, login_rate_per_min=100
    )
    await platform.security.open()
    try:
        ident = platform.security.identity
        await asyncio.to_thread(ident.add_user_sync, "ann", PASSWORD, "engineer")
        for _ in range(3):
            with pytest.raises(AuthError, match="wrong user name or password"):
                await ident.login("ann", "guess guess guess", "10.0.0.9")
        with pytest.raises(AuthError, match="locked") as locked:
            await ident.login("ann", PASSWORD, "10.0.0.9")  # even the right password
        assert 25 < locked.value.retry_after_s <= 30
        await asyncio.to_thread(
            platform.security.db.call,
            lambda c: c.execute("UPDATE users SET locked_until=0 WHERE name='ann'"),
            True,
        )
        with pytest.raises(AuthError):
            await ident.login("ann", "guess again guess", "10.0.0.9")
        users = {u["name"]: u for u in await asyncio.to_thread(ident.users_sync)}
        assert users["ann"]["failures"] == 4
        # the 4th failure in a row locks for twice as long (backoff)
        assert users["ann"]["locked_until"] is not None
        actions = [r["action"] for r in await asyncio.to_thread(platform.audit.records, 50)]
        assert actions.count("lockout") == 2
        assert (await asyncio.to_thread(platform.audit.verify)).ok
    finally:
        await platform.security.close()


async def test_login_rate_limit_per_client(tmp_path: Path) -> None:
    platform = secure_platform(tmp_path / "data", login_rate_per_min=2)
    await platform.security.open()
    try:
        ident = platform.security.identity
        for _ in range(2):
            with pytest.raises(AuthError, match="wrong"):
                await ident.login("nobody", "x", "10.1.1.1")
        with pytest.raises(AuthError, match="too many") as err:
            await ident.login("nobody", "x", "10.1.1.1")
        assert err.value.retry_after_s > 0
        with pytest.raises(AuthError, match="wrong"):  # another client is not affected
            await ident.login("nobody", "x", "10.1.1.2")
    finally:
        await platform.security.close()


async def test_password_policy_and_roles(tmp_path: Path) -> None:
    platform = secure_platform(tmp_path / "data")
    await platform.security.open()
    try:
        ident = platform.security.identity
        with pytest.raises(IdentityError, match="at least 10"):
            ident.add_user_sync("bob", "short", "viewer")
        with pytest.raises(IdentityError, match="unknown role 'god'"):
            ident.add_user_sync("bob", PASSWORD, "god")
        with pytest.raises(IdentityError, match="user name"):
            ident.add_user_sync("bob smith", PASSWORD, "viewer")
        ident.add_user_sync("bob", PASSWORD, "viewer")
        with pytest.raises(IdentityError, match="exists"):
            ident.add_user_sync("bob", PASSWORD, "viewer")
        stored = platform.security.db.call(
            lambda c: c.execute("SELECT password_hash FROM users").fetchone()[0]
        )
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
    finally:
        await platform.security.close()


async def test_token_scopes_sites_and_revocation(secured: Secured) -> None:
    ident = secured.platform.security.identity
    tid, secret = await asyncio.to_thread(
        lambda: ident.new_token_sync("script", "test", "engineer", sites=["mill"], scopes=["data:*"])
    )
    h = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=secured.base, headers=h) as c:
        assert (await c.get("/api/v1/latest", params={"asset": "mill/converting"})).status_code == 200
        other = await c.get("/api/v1/latest", params={"asset": "pulp/line1"})
        assert other.status_code == 403 and "sites" in other.json()["detail"]
        assert (await c.get("/api/v1/assets/pulp/line1")).status_code == 403
        assert (await c.get("/api/v1/assets/mill/converting/line1/cutter")).status_code == 200
        assert (await c.get("/api/v1/rules")).status_code == 403  # scope data:* only
        assert (await c.post("/api/v1/alarms/x/ack", json={"user": "u"})).status_code == 403
        await asyncio.to_thread(ident.revoke_token_sync, tid)
        assert (await c.get("/api/v1/latest")).status_code == 401  # at once, no restart
    _, expired = await asyncio.to_thread(lambda: ident.new_token_sync("old", "t", "viewer", ttl_days=1e-9))
    async with httpx.AsyncClient(base_url=secured.base) as c:
        r = await c.get("/api/v1/latest", headers={"Authorization": f"Bearer {expired}"})
        assert r.status_code == 401


async def test_admin_manages_users_over_the_api(secured: Secured) -> None:
    async with httpx.AsyncClient(base_url=secured.base, headers=secured.auth("admin")) as c:
        r = await c.post("/api/v1/users", json={"name": "newbie", "password": PASSWORD, "role": "viewer"})
        assert r.status_code == 201, r.text
        assert (
            await c.post("/api/v1/users", json={"name": "newbie", "password": PASSWORD, "role": "viewer"})
        ).status_code == 409
        r = await c.post("/api/v1/tokens", json={"name": "plc-gw", "role": "device"})
        assert r.status_code == 201 and r.json()["token"].startswith("sft_")
        device_token = r.json()["token"]
        r = await c.patch("/api/v1/users/newbie", json={"role": "operator"})
        assert r.status_code == 200
        names = {u["name"]: u["role"] for u in (await c.get("/api/v1/users")).json()}
        assert names["newbie"] == "operator"
        verify = (await c.get("/api/v1/audit/verify")).json()
        assert verify["ok"] and verify["records"] >= 3
        actions = {a["action"] for a in (await c.get("/api/v1/audit")).json()}
        assert {"user.add", "user.change", "token.issue"} <= actions
    async with httpx.AsyncClient(
        base_url=secured.base, headers={"Authorization": f"Bearer {device_token}"}
    ) as c:
        body = [{"asset": "mill/converting/line1/cutter", "tag": "force", "value": 12.5}]
        assert (await c.post("/api/v1/ingest", json=body)).status_code == 200
        assert (await c.get("/api/v1/latest")).status_code == 403


def test_demo_profile_refuses_a_network_address(tmp_path: Path) -> None:
    settings = load_settings(
        overrides={"data_dir": tmp_path, "api": {"host": "0.0.0.0"}, "security": {"profile": "demo"}}
    )
    from shopfloor.service import Platform

    with pytest.raises(ConfigError, match=r"api\.host: the demo security profile is not secured"):
        Platform(settings)


async def test_demo_profile_is_open_but_says_so(tmp_path: Path) -> None:
    from ..api.conftest import make_platform

    async with serving(make_platform(tmp_path / "data")) as p:
        c = httpx.AsyncClient(base_url=f"http://127.0.0.1:{p.http_port}")
        assert (await c.get("/api/v1/latest")).status_code == 200
        health = (await c.get("/api/v1/health")).json()
        assert health["security"]["profile"] == "demo" and health["security"]["secured"] is False
        assert health["security"]["mqtt_acl"] is False and health["security"]["tls"] is False
        me = (await c.get("/api/v1/auth/me")).json()
        assert me["authenticated"] and me["kind"] == "anonymous" and me["secured"] is False
        await c.aclose()


async def test_site_scoping_filters_lists_and_refuses_other_sites(tmp_path: Path) -> None:
    two_sites = {
        "plant": {"enterprise": "acme", "name": "two sites"},
        "asset": [
            {"path": "mill/converting/line1/cutter", "tag": [{"name": "force", "unit": "N"}]},
            {"path": "pulp/line1/pump", "tag": [{"name": "flow", "unit": "m3/h"}]},
        ],
    }
    async with serving(secure_platform(tmp_path / "data", plant=two_sites)) as p:
        ident = p.security.identity
        _, admin = await asyncio.to_thread(ident.new_token_sync, "a", "t", "admin")
        _, pulp = await asyncio.to_thread(lambda: ident.new_token_sync("p", "t", "operator", sites=["pulp"]))
        base = f"http://127.0.0.1:{p.http_port}/api/v1"
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {admin}"}) as c:
            body = [
                {"asset": "mill/converting/line1/cutter", "tag": "force", "value": 1.0},
                {"asset": "pulp/line1/pump", "tag": "flow", "value": 2.0},
            ]
            assert (await c.post("/ingest", json=body)).json()["accepted"] == 2
            for _ in range(100):
                if len((await c.get("/latest")).json()) == 2:
                    break
                await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {pulp}"}) as c:
            assert [s["asset"] for s in (await c.get("/latest")).json()] == ["pulp/line1/pump"]
            assert [a["path"] for a in (await c.get("/assets")).json()["children"]] == ["pulp"]
            assert {t["asset"] for t in (await c.get("/tags")).json()} == {"pulp/line1/pump"}
            assert (await c.get("/deadletters")).status_code == 403
            assert (await c.get("/export")).status_code == 403
            assert (await c.get("/export", params={"asset": "pulp/line1"})).status_code == 200
            assert (
                await c.get("/history", params={"asset": "mill/converting/line1/cutter", "tag": "force"})
            ).status_code == 403
            assert (await c.get("/alarms")).status_code == 200
