"""OPC UA connector: subscription data, read/write with refusals, browse, config checks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from asyncua import Server, ua
from pydantic import ValidationError

from shopfloor.connectors.opcua.client import OpcUaClient
from shopfloor.connectors.opcua.config import OpcUaNode, OpcUaServer
from shopfloor.core.errors import DeviceUnavailable, ProtocolError
from tests.edge.conftest import wait_for
from tests.edge.servers import free_port


async def test_subscribe_read_write_browse() -> None:
    port = free_port()
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/t")
    ns = await server.register_namespace("urn:t")
    folder = await server.nodes.objects.add_folder(ua.NodeId("line", ns), "line")
    sp = await folder.add_variable(ua.NodeId("line/sp", ns), "sp", 1.0)
    await sp.set_writable()
    pv = await folder.add_variable(ua.NodeId("line/pv", ns), "pv", 5)
    await server.start()
    got: list = []
    cfg = OpcUaServer(
        name="s",
        url=f"opc.tcp://127.0.0.1:{port}/t",
        namespace_uri="urn:t",
        publishing_interval_ms=50,
        nodes=[
            OpcUaNode(node_id="ns=9;s=line/sp", asset="m", tag="sp", writable=True),
            OpcUaNode(node_id="ns=9;s=line/pv", asset="m", tag="pv"),
        ],
    )
    client = OpcUaClient(cfg, got.extend)
    with pytest.raises(DeviceUnavailable):
        await client.read(("m", "sp"))
    await client.start()
    try:
        await asyncio.wait_for(client.connected.wait(), 10)
        await pv.write_value(ua.Variant(6, ua.VariantType.Int64))
        await wait_for(lambda: any(n.tag == "pv" and v == 6 and q == 192 for n, _, v, q in got))
        await client.write(("m", "sp"), 2.5)
        assert await client.read(("m", "sp")) == 2.5
        with pytest.raises(ProtocolError, match="write m/pv"):
            await client.write(("m", "pv"), 7)  # not writable: the server refuses
        with pytest.raises(ProtocolError, match="not configured"):
            await client.read(("m", "nope"))
        found = dict((p, n) for n, p in await client.browse())
        assert "line/sp" in found and "line/pv" in found
    finally:
        await client.stop()
        await server.stop()


async def test_basic256sha256_with_certificates(tmp_path: Path) -> None:
    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from cryptography.x509.oid import ExtendedKeyUsageOID

    certs = {}
    for who, uri, use in (
        ("server", "urn:shopfloor:test-server", ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", "urn:shopfloor:edge", ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key, cert = tmp_path / f"{who}-key.pem", tmp_path / f"{who}-cert.der"
        await setup_self_signed_certificate(key, cert, uri, "localhost", [use], {"commonName": who})
        certs[who] = (key, cert)
    port = free_port()
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/s")
    server.set_server_name("secured")
    await server.set_application_uri("urn:shopfloor:test-server")
    server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    await server.load_certificate(str(certs["server"][1]))
    await server.load_private_key(str(certs["server"][0]))
    ns = await server.register_namespace("urn:t")
    var = await server.nodes.objects.add_variable(ua.NodeId("x", ns), "x", 1.0)
    await server.start()
    got: list = []
    node = OpcUaNode(node_id="ns=2;s=x", asset="m", tag="x")
    secured = OpcUaServer(
        name="sec",
        url=f"opc.tcp://127.0.0.1:{port}/s",
        security_policy="Basic256Sha256",
        certificate=certs["client"][1],
        private_key=certs["client"][0],
        publishing_interval_ms=50,
        nodes=[node],
    )
    plain = OpcUaServer(name="plain", url=f"opc.tcp://127.0.0.1:{port}/s", backoff_max_s=0.5, nodes=[node])
    client, refused = OpcUaClient(secured, got.extend), OpcUaClient(plain, lambda _: None)
    await client.start()
    await refused.start()
    try:
        await asyncio.wait_for(client.connected.wait(), 15)
        await var.write_value(2.0)
        await wait_for(lambda: any(v == 2.0 for _, _, v, _ in got))
        await wait_for(lambda: refused.failures >= 1)  # no security: the server offers no endpoint
        assert not refused.connected.is_set()
    finally:
        await client.stop()
        await refused.stop()
        await server.stop()


def test_config_checks() -> None:
    with pytest.raises(ValidationError, match=r"opc\.tcp://"):
        OpcUaServer(name="s", url="http://x")
    with pytest.raises(ValidationError, match="needs certificate and private_key"):
        OpcUaServer(name="s", url="opc.tcp://x:4840", security_policy="Basic256Sha256")
