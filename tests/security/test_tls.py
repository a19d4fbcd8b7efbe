"""TLS on the listeners: HTTPS for the API and MQTTS for the embedded broker, from shopfloor's CA."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ..api.conftest import serving
from .conftest import secure_platform
from .test_broker_acl import CUTTER


async def test_https_and_mqtts_with_the_platform_ca(tmp_path: Path) -> None:
    platform = secure_platform(tmp_path / "data", tls="on", mqtt_tls=True)
    async with serving(platform) as p:
        ca = tmp_path / "data" / "pki" / "ca.crt"
        assert ca.exists(), "the CA was not created at start"
        verify = ssl.create_default_context(cafile=str(ca))
        async with httpx.AsyncClient(verify=verify) as c:
            health = await c.get(f"https://127.0.0.1:{p.http_port}/api/v1/health")
        assert health.status_code == 200 and health.json()["security"]["tls"] is True
        try:
            async with httpx.AsyncClient(timeout=3) as c:
                await c.get(f"http://127.0.0.1:{p.http_port}/api/v1/health")
            plain = True
        except httpx.HTTPError:
            plain = False
        assert not plain, "plain HTTP answered on the HTTPS port"
        # a session cookie under TLS is Secure
        await asyncio.to_thread(p.security.identity.add_user_sync, "ann", "correct horse battery", "viewer")
        async with httpx.AsyncClient(verify=verify) as c:
            r = await c.post(
                f"https://localhost:{p.http_port}/api/v1/auth/login",
                json={"username": "ann", "password": "correct horse battery"},
            )
        assert r.status_code == 200 and "Secure" in r.headers["set-cookie"]

        token = await asyncio.to_thread(p.security.devices.provision, "cutter-1", CUTTER)
        port = p.mqtt_port

        def connect(tls: bool) -> bool:
            c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"tls-{tls}")
            c.username_pw_set("cutter-1", token)
            if tls:
                c.tls_set(ca_certs=str(ca))
            got: dict[str, object] = {}
            c.on_connect = lambda cl, u, f, rc, props: got.setdefault("rc", rc)
            try:
                c.connect("127.0.0.1", port)
            except (OSError, ssl.SSLError):
                return False
            for _ in range(100):
                c.loop(0.05)
                if "rc" in got:
                    break
            c.disconnect()
            rc = got.get("rc")
            return rc is not None and not rc.is_failure  # type: ignore[attr-defined]

        assert await asyncio.to_thread(connect, True)
        assert not await asyncio.to_thread(connect, False)
