"""Admin commands: ``shopfloor users|tokens|devices|audit|pki|sign ...`` (see docs/security.md).

They work on ``<data_dir>/security.db`` and ``<data_dir>/pki`` directly, also while the platform
runs; changes (a revoked token, a disabled user, a revoked device) take effect at once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

users_app = typer.Typer(
    help="Dashboard and API users (roles: viewer, operator, engineer, admin).", no_args_is_help=True
)
tokens_app = typer.Typer(help="API tokens for machines and scripts.", no_args_is_help=True)
devices_app = typer.Typer(help="Device registry: credentials and MQTT topic ACLs.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
pki_app = typer.Typer(
    help="shopfloor's certificate authority (device and server certificates).", no_args_is_help=True
)
sign_app = typer.Typer(
    help="Ed25519-signed artefact bundles (edge config, models, firmware).", no_args_is_help=True
)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML settings file.")]
DataOpt = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default ./data).")]
SiteOpt = Annotated[list[str] | None, typer.Option("--site", help="Limit to this site (repeatable).")]


def register(app: typer.Typer) -> None:
    for sub, name in (
        (users_app, "users"),
        (tokens_app, "tokens"),
        (devices_app, "devices"),
        (audit_app, "audit"),
        (pki_app, "pki"),
        (sign_app, "sign"),
    ):
        app.add_typer(sub, name=name)


def _data_dir(config: Path | None, data_dir: Path | None) -> tuple[Path, Any]:
    from ..core.settings import load_settings

    settings = load_settings(config, {"data_dir": data_dir} if data_dir else None)
    return Path(settings.data_dir), settings


@contextmanager
def _security(config: Path | None, data_dir: Path | None) -> Iterator[Any]:
    from .manager import Security

    folder, settings = _data_dir(config, data_dir)
    sec = Security(folder, settings.security, topic_root=settings.mqtt.topic_root)
    sec.open_sync()
    try:
        yield sec
    finally:
        sec.db.close_sync()


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _table(rows: list[dict[str, Any]], keys: list[str]) -> None:
    for r in rows:
        typer.echo("  ".join(f"{k}={r.get(k)}" for k in keys))


# -- users ------------------------------------------------------------------------------------------


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help="viewer, operator, engineer or admin.")],
    site: SiteOpt = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
    config: ConfigOpt = None,
    data_dir: DataOpt = None,
) -> None:
    """Create a user (the password is prompted, or read from stdin).

    Example: shopfloor users add alice --role admin
    """
    with _security(config, data_dir) as sec:
        sec.identity.add_user_sync(name, _password(password_stdin), role, site or None)
    typer.echo(f"user {name} ({role}) created")


@users_app.command("list")
def users_list(config: ConfigOpt = None, data_dir: DataOpt = None) -> None:
    """Every user with role, sites and lockout state. Example: shopfloor users list"""
    with _security(config, data_dir) as sec:
        _table(sec.identity.users_sync(), ["name", "role", "sites", "disabled", "failures", "locked_until"])


@users_app.command("set")
def users_set(
    name: str,
    role: Annotated[str | None, typer.Option(help="New role.")] = None,
    site: SiteOpt = None,
    all_sites: Annotated[bool, typer.Option(help="Every site.")] = False,
    disable: Annotated[bool | None, typer.Option("--disable/--enable", help="Lock the account out.")] = None,
    password: Annotated[bool, typer.Option(help="Set a new password (prompted).")] = False,
    password_stdin: Annotated[bool, typer.Option(help="Read the new password from stdin.")] = False,
    config: ConfigOpt = None,
    data_dir: DataOpt = None,
) -> None:
    """Change a user's role, sites, password; disable or enable it (ends its sessions).

    Example: shopfloor users set bob --role operator --site riverside
    """
    sites: list[str] | bool | None = None if all_sites else (site if site else False)
    new_pw = _password(password_stdin) if (password or password_stdin) else None
    with _security(config, data_dir) as sec:
        sec.identity.set_user_sync(name, role=role, sites=sites, password=new_pw, disabled=disable)
    typer.echo(f"user {name} changed")


@users_app.command("delete")
def users_delete(name: str, config: ConfigOpt = None, data_dir: DataOpt = None) -> None:
    """Delete a user, its sessions and its tokens. Example: shopfloor users delete bob"""
    with _security(config, data_dir) as sec:
        sec.identity.delete_user_sync(name)
    typer.echo(f"user {name} deleted")


# -- tokens -----------------------------------------------------------------------------------------


@tokens_app.command("add")
def tokens_add(
    name: str,
    role: Annotated[str, typer.Option(help="viewer, operator, engineer, admin or device.")],
    site: SiteOpt = None,
    scope: Annotated[
        list[str] | None, typer.Option(help="Permission pattern, e.g. data:* (repeatable).")
    ] = None,
    days: Annotated[float, typer.Option(help="Valid this many days.")] = 365.0,
    owner: Annotated[str, typer.Option(help="Who the token belongs to.")] = "cli",
    config: ConfigOpt = None,
    data_dir: DataOpt = None,
) -> None:
    """Issue an API token; the secret is printed once.

    Example: shopfloor tokens add historian-export --role viewer --scope 'data:*'
    """
    with _security(config, data_dir) as sec:
        tid, secret = sec.identity.new_token_sync(
            name, owner, role, sites=site or None, scopes=scope or None, ttl_days=days
        )
    typer.echo(f"token {tid} ({role}); send it as 'Authorization: Bearer <token>' (shown once):")
    typer.echo(secret)


@tokens_app.command("list")
def tokens_list(config: ConfigOpt = None, data_dir: DataOpt = None) -> None:
    """Every token (never the secrets). Example: shopfloor tokens list"""
    with _security(config, data_dir) as sec:
        _table(sec.identity.tokens_sync(), ["id", "name", "owner", "role", "sites", "scopes", "revoked"])


@tokens_app.command("revoke")
def tokens_revoke(token_id: str, config: ConfigOpt = None, data_dir: DataOpt = None) -> None:
    """Revoke a token at once. Example: shopfloor tokens revoke 3fa2c1d09e11"""
    with _security(config, data_dir) as sec:
        sec.identity.revoke_token_sync(token_id)
    typer.echo(f"token {token_id} revoked")


# -- devices ----------------------------------------------------------------------------------------


@devices_app.command("add")
def devices_add(
    device_id: str,
    topic_prefix: Annotated[str | None, typer.Option(help="Its topic subtree (default <root>/<id>).")] = None,
    site: Annotated[str | None, typer.Option(help="Site the device belongs to.")] = None,
    cert: Annotated[bool, typer.Option(help="Also issue an X.509 client certificate from the CA.")] = False,
    mosquitto_passwd: Annotated[
        Path | None, typer.Option(help="Append a Mosquitto password_file line.")
    ] = None,
    config: ConfigOpt = None,
    data_dir: DataOpt = None,
) -> None:
    """Provision a device: MQTT username = its id, password = the token printed once.

    Example: shopfloor devices add cutter-1 --topic-prefix shopfloor/v1/riverside/converting/line1/cutter
    """
    from .pki import CertificateAuthority

    with _security(config, data_dir) as sec:
        token = sec.devices.provision(device_id, topic_prefix, site=site)
        if cert:
            issued = CertificateAuthority(sec.db.path.parent / "pki").issue(device_id)
            sec.devices.set_certificate(device_id, issued.serial)
            typer.echo(f"certificate {issued.cert_path} key {issued.key_path}")
        if mosquitto_passwd is not None:
            with mosquitto_passwd.open("a") as f:
                f.write(sec.devices.mosquitto_password_line(device_id, token) + "\n")
        device = sec.devices.get(device_id)
    typer.echo(
        f"device {device_id} may publish under {device.topic_prefix if device else '?'}/#; "
        "token (shown once):"
    )
    typer.echo(token)


@devices_app.command("list")
def devices_list(config: ConfigOpt = None, data_dir: DataOpt = None) -> None:
    """Every device. Example: shopfloor devices list"""
    with _security(config, data_dir) as sec:
        _table(sec.devices.list(), ["id", "topic_prefix", "site", "revoked", "cert_serial"])


@devices_app.command("revoke")
def devices_revoke(device_id: str, config: ConfigOpt = None, data_dir: DataOpt = None) -> None:
    """Revoke a device's token (and certificate); no restart needed.

    Example: shopfloor devices revoke cutter-1
    """
    from .pki import CertificateAuthority, PkiError

    with _security(config, data_dir) as sec:
        sec.devices.revoke(device_id)
        ca = CertificateAuthority(sec.db.path.parent / "pki")
        if ca.exists():
            try:
                ca.revoke(device_id)
                sec.audit.append("cli", "pki.revoke", device_id)
            except PkiError:
                pass  # the device had no certificate
    typer.echo(f"device {device_id} revoked")


@devices_app.command("acl")
def devices_acl(
    out: Annotated[Path | None, typer.Option(help="Write here (default: print).")] = None,
    config: ConfigOpt = None,
    data_dir: DataOpt = None,
) -> None:
    """Mosquitto acl_file for every active device. Example: shopfloor devices acl --out /etc/mosquitto/acl"""
    with _security(config, data_dir) as sec:
        text = sec.devices.mosquitto_acl()
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text)
        typer.echo(f"wrote {out}; reload Mosquitto (kill -HUP) to apply it")


# -- audit ------------------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    config: ConfigOpt = None,
    data_dir: DataOpt = None,
) -> None:
    """Recompute the hash chain; exit status 1 if any record was changed, deleted or reordered.

    Example: shopfloor audit verify
    """
    with _security(config, data_dir) as sec:
        result = sec.audit.verify()
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
    else:
        typer.echo(f"{result.records} records: " + ("chain intact" if result.ok else "TAMPERED"))
        for p in result.problems:
            typer.echo(f"  {p}")
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("show")
def audit_show(
    limit: Annotated[int, typer.Option(help="Newest N records.")] = 50,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. login.")] = None,
    config: ConfigOpt = None,
    data_dir: DataOpt = None,
) -> None:
    """The newest audit records. Example: shopfloor audit show --action login"""
    with _security(config, data_dir) as sec:
        for r in sec.audit.records(limit, action):
            typer.echo(
                f"{r['seq']:>6} {r['ts']} {r['actor']:<16} {r['action']:<18} {r['target']} "
                f"{r['outcome']} {json.dumps(r['detail'])}"
            )


# -- pki --------------------------------------------------------------------------------------------


def _ca(config: Path | None, data_dir: Path | None) -> Any:
    from .pki import CertificateAuthority

    folder, _ = _data_dir(config, data_dir)
    return CertificateAuthority(folder / "pki")


def _audit_pki(config: Path | None, data_dir: Path | None, action: str, target: str, **detail: Any) -> None:
    with _security(config, data_dir) as sec:
        sec.audit.append("cli", action, target, detail=detail)


@pki_app.command("init")
def pki_init(
    name: Annotated[str, typer.Option(help="The CA's common name.")] = "shopfloor CA",
    config: ConfigOpt = None,
    data_dir: DataOpt = None,
) -> None:
    """Create the CA under <data_dir>/pki. Example: shopfloor pki init"""
    path = _ca(config, data_dir).init(name)
    _audit_pki(config, data_dir, "pki.init", name)
    typer.echo(f"CA certificate {path}")


@pki_app.command("issue")
def pki_issue(
    name: str,
    server: Annotated[
        bool, typer.Option(help="A server certificate (HTTPS, MQTTS) instead of a device's.")
    ] = False,
    host: Annotated[list[str] | None, typer.Option(help="Server DNS name or IP (repeatable).")] = None,
    days: Annotated[int, typer.Option(help="Valid this many days.")] = 365,
    config: ConfigOpt = None,
    data_dir: DataOpt = None,
) -> None:
    """Issue a key pair and certificate.

    Example: shopfloor pki issue gateway --server --host gw.plant.local
    """
    issued = _ca(config, data_dir).issue(name, "server" if server else "device", days=days, hosts=host)
    _audit_pki(config, data_dir, "pki.issue", name, serial=issued.serial, kind=issued.kind)
    typer.echo(f"certificate {issued.cert_path}\nkey {issued.key_path}\nserial {issued.serial}")


@pki_app.command("revoke")
def pki_revoke(name: str, config: ConfigOpt = None, data_dir: DataOpt = None) -> None:
    """Revoke a certificate (by name or serial) and rewrite the CRL. Example: shopfloor pki revoke cutter-1"""
    serials = _ca(config, data_dir).revoke(name)
    _audit_pki(config, data_dir, "pki.revoke", name, serials=serials)
    typer.echo(f"revoked {', '.join(serials)}; CRL rewritten")


@pki_app.command("crl")
def pki_crl(config: ConfigOpt = None, data_dir: DataOpt = None) -> None:
    """Rewrite the CRL (it is valid 7 days: run this from cron). Example: shopfloor pki crl"""
    typer.echo(str(_ca(config, data_dir).write_crl()))


# -- signing ----------------------------------------------------------------------------------------


@sign_app.command("keygen")
def sign_keygen(out: Annotated[Path, typer.Option(help="Folder for signing.key and signing.pub.")]) -> None:
    """Create an Ed25519 signing key pair. Example: shopfloor sign keygen --out keys/"""
    from .signing import generate_key, save_keypair

    save_keypair(generate_key(), out / "signing.key", out / "signing.pub")
    typer.echo(f"wrote {out / 'signing.key'} (keep secret) and {out / 'signing.pub'} (give to devices)")


@sign_app.command("bundle")
def sign_bundle_cmd(
    folder: Path,
    key: Annotated[Path, typer.Option(help="Ed25519 private key (PEM).")],
    kind: Annotated[str, typer.Option(help="config, model or firmware.")],
    name: Annotated[str, typer.Option(help="Bundle name.")],
    version: Annotated[str, typer.Option(help="Dotted version, e.g. 1.4.2.")],
) -> None:
    """Sign a bundle folder (writes manifest.json and manifest.sig).

    Example: shopfloor sign bundle build/fw --key keys/signing.key --kind firmware --name gw --version 1.2.0
    """
    from .signing import load_private_key, sign_bundle

    m = sign_bundle(folder, load_private_key(key), kind=kind, name=name, version=version)
    typer.echo(f"signed {len(m.files)} files of {name} {version} with key {m.key_id}")


@sign_app.command("verify")
def sign_verify(
    folder: Path,
    pub: Annotated[list[Path], typer.Option(help="Trusted Ed25519 public key (repeatable).")],
    installed: Annotated[str | None, typer.Option(help="Installed version (refuse downgrades).")] = None,
) -> None:
    """Verify a bundle; exit 1 when refused. Example: shopfloor sign verify build/fw --pub keys/signing.pub"""
    from .signing import BundleRefused, load_public_key, verify_bundle

    try:
        m = verify_bundle(folder, [load_public_key(p) for p in pub], installed=installed)
    except BundleRefused as err:
        typer.echo(f"refused: {err}")
        raise typer.Exit(1) from None
    typer.echo(f"ok: {m.kind} {m.name} {m.version} signed by {m.key_id}")
