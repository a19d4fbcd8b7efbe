"""The CA: issue device and server certificates, revoke them, the CRL and the check."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from cryptography import x509

from shopfloor.security.pki import CertificateAuthority, PkiError


def test_issue_check_revoke(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "pki")
    with pytest.raises(PkiError, match="pki init"):
        ca.issue("cutter-1")
    ca.init()
    with pytest.raises(PkiError, match="already exists"):
        ca.init()
    assert (tmp_path / "pki" / "ca.key").stat().st_mode & 0o777 == 0o600
    dev = ca.issue("cutter-1")
    cert = x509.load_pem_x509_certificate(dev.cert_path.read_bytes())
    assert cert.subject.rfc4514_string() == "CN=cutter-1"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH in eku
    assert ca.check(dev.cert_path.read_bytes()) == ""
    other = CertificateAuthority(tmp_path / "other")
    other.init()
    foreign = other.issue("cutter-1")
    assert "not issued by this CA" in ca.check(foreign.cert_path.read_bytes())
    assert ca.revoke("cutter-1") == [dev.serial]
    assert ca.check(dev.cert_path.read_bytes()).startswith("revoked")
    crl = x509.load_pem_x509_crl(ca.crl_path.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(int(dev.serial, 16)) is not None
    with pytest.raises(PkiError, match="no live certificate"):
        ca.revoke("cutter-1")
    with pytest.raises(PkiError, match="name"):
        ca.issue("../etc/passwd")


def test_server_certificate_works_for_tls(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "pki")
    ca.init()
    server = ca.issue("gateway", "server", hosts=["127.0.0.1", "localhost"])
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(server.cert_path, server.key_path)  # key and certificate match
    client = ssl.create_default_context(cafile=str(ca.ca_cert_path))
    assert client.verify_mode == ssl.CERT_REQUIRED
