"""shopfloor's own certificate authority: device client certificates, server certificates, CRL.

Files under ``<data_dir>/pki/`` (keys ``0600``)::

    ca.key  ca.crt          the CA (ECDSA P-256, 10 years)
    crl.pem                 certificate revocation list, rewritten at every revocation
    index.json              every issued certificate: serial, name, kind, expiry, revoked
    issued/<name>.key/.crt  issued key pairs (devices: clientAuth, CN = device id;
                            servers: serverAuth, with DNS/IP subject alternative names)

``shopfloor pki init|issue|revoke|crl`` drive it; Mosquitto takes ``cafile``/``crlfile`` and
``use_identity_as_username true`` so the certificate's CN names the device in its ACL.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..core.errors import ShopfloorError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class PkiError(ShopfloorError):
    """The CA is missing, already exists, or a certificate request is invalid."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write(path: Path, data: bytes, secret: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class Issued:
    name: str
    serial: str
    kind: str
    cert_path: Path
    key_path: Path
    not_after: str


class CertificateAuthority:
    """The CA in one folder; see the module docstring."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @property
    def ca_cert_path(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def crl_path(self) -> Path:
        return self.folder / "crl.pem"

    def exists(self) -> bool:
        return self.ca_cert_path.exists() and (self.folder / "ca.key").exists()

    def init(self, common_name: str = "shopfloor CA", days: int = 3650) -> Path:
        """Create the CA (refuses to overwrite one); returns the CA certificate's path."""
        if self.exists():
            raise PkiError(f"a CA already exists in {self.folder}; remove it first to start over")
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write(self.folder / "ca.key", _key_pem(key), secret=True)
        _write(self.ca_cert_path, cert.public_bytes(serialization.Encoding.PEM))
        self._save_index([])
        self.write_crl()
        return self.ca_cert_path

    def _load_ca(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        if not self.exists():
            raise PkiError(f"no CA in {self.folder}: run `shopfloor pki init` first")
        cert = x509.load_pem_x509_certificate(self.ca_cert_path.read_bytes())
        key = serialization.load_pem_private_key((self.folder / "ca.key").read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return cert, key

    def _index(self) -> list[dict[str, Any]]:
        path = self.folder / "index.json"
        return json.loads(path.read_text()) if path.exists() else []

    def _save_index(self, items: list[dict[str, Any]]) -> None:
        _write(self.folder / "index.json", json.dumps(items, indent=1).encode())

    def issue(
        self, name: str, kind: str = "device", *, days: int = 365, hosts: list[str] | None = None
    ) -> Issued:
        """Issue a key pair and certificate for a device (client) or a server (``hosts`` as SANs)."""
        if not _NAME.match(name):
            raise PkiError(f"name {name!r}: use letters, digits, '.', '_' or '-' (max 128)")
        if kind not in ("device", "server"):
            raise PkiError(f"kind {kind!r}: choose 'device' or 'server'")
        ca_cert, ca_key = self._load_ca()
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if kind == "device" else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
        )
        if kind == "server":
            sans: list[x509.GeneralName] = []
            for h in hosts or ["localhost", "127.0.0.1"]:
                try:
                    sans.append(x509.IPAddress(ipaddress.ip_address(h)))
                except ValueError:
                    sans.append(x509.DNSName(h))
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        key_path, cert_path = self.folder / "issued" / f"{name}.key", self.folder / "issued" / f"{name}.crt"
        _write(key_path, _key_pem(key), secret=True)
        _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        serial = format(cert.serial_number, "x")
        index = self._index()
        index.append(
            {
                "serial": serial,
                "name": name,
                "kind": kind,
                "not_after": cert.not_valid_after_utc.isoformat(),
                "revoked": None,
            }
        )
        self._save_index(index)
        return Issued(name, serial, kind, cert_path, key_path, cert.not_valid_after_utc.isoformat())

    def revoke(self, name_or_serial: str) -> list[str]:
        """Revoke every live certificate of a name (or one serial); rewrites the CRL."""
        index = self._index()
        hit = [c for c in index if c["revoked"] is None and name_or_serial in (c["name"], c["serial"])]
        if not hit:
            raise PkiError(f"no live certificate named or numbered {name_or_serial!r}")
        for c in hit:
            c["revoked"] = _now().isoformat()
        self._save_index(index)
        self.write_crl()
        return [c["serial"] for c in hit]

    def write_crl(self, days: int = 7) -> Path:
        """(Re)write ``crl.pem`` listing the revoked serials; valid for ``days``."""
        ca_cert, ca_key = self._load_ca()
        now = _now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca_cert.subject)
            .last_update(now)
            .next_update(now + dt.timedelta(days=days))
        )
        for c in self._index():
            if c["revoked"]:
                builder = builder.add_revoked_certificate(
                    x509.RevokedCertificateBuilder()
                    .serial_number(int(c["serial"], 16))
                    .revocation_date(dt.datetime.fromisoformat(c["revoked"]))
                    .build()
                )
        crl = builder.sign(ca_key, hashes.SHA256())
        _write(self.crl_path, crl.public_bytes(serialization.Encoding.PEM))
        return self.crl_path

    def covers(self, cert_pem: bytes, hosts: list[str]) -> bool:
        """Whether a valid, unrevoked certificate of this CA names every host in ``hosts``."""
        if self.check(cert_pem):
            return False
        cert = x509.load_pem_x509_certificate(cert_pem)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return False
        names = {str(n) for n in san.get_values_for_type(x509.DNSName)}
        names |= {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
        return all(h in names for h in hosts)

    def certificates(self) -> list[dict[str, Any]]:
        return self._index()

    def check(self, cert_pem: bytes) -> str:
        """Why ``cert_pem`` is not acceptable ('' when it is): issuer, validity, revocation."""
        ca_cert, _ = self._load_ca()
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
        except ValueError as err:
            return f"not a PEM certificate: {err}"
        try:
            cert.verify_directly_issued_by(ca_cert)
        except (ValueError, TypeError) as err:
            return f"not issued by this CA: {err}"
        except InvalidSignature:
            return "not issued by this CA: the signature does not verify"
        now = _now()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            return (
                f"expired or not yet valid (valid {cert.not_valid_before_utc} .. {cert.not_valid_after_utc})"
            )
        crl = x509.load_pem_x509_crl(self.crl_path.read_bytes())
        if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
            return f"revoked (serial {cert.serial_number:x})"
        return ""
