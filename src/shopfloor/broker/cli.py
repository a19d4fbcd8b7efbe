"""``shopfloor broker mosquitto-config``: Mosquitto's conf, ACL and password files for production."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

import typer

broker_app = typer.Typer(help="The MQTT broker in production (Mosquitto).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(broker_app, name="broker")


@broker_app.command("mosquitto-config")
def mosquitto_config(
    out: Annotated[Path, typer.Option("--out", help="Folder for mosquitto.conf, acl and passwd.")],
    port: Annotated[int, typer.Option(help="Listener port.")] = 1883,
    host: Annotated[str, typer.Option(help="Listener address.")] = "0.0.0.0",
    max_queued: Annotated[int, typer.Option(help="max_queued_messages per client.")] = 100_000,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML settings file.")] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory (device registry).")
    ] = None,
) -> None:
    """Write Mosquitto's configuration from the device registry, with queue limits set on purpose.

    Prints the ingest account's password once: put it in the platform's settings
    (mqtt.username = "shopfloor-ingest", mqtt.password = ...).
    Example: shopfloor broker mosquitto-config --out /etc/mosquitto/shopfloor
    """
    from ..security.cli import _security
    from .mosquitto import INGEST_USER, render, write

    with _security(config, data_dir) as sec:
        acl = sec.devices.mosquitto_acl()
        root = sec.devices.topic_root
    password = secrets.token_urlsafe(24)
    files = render(
        acl_devices=acl,
        ingest_password=password,
        folder=out.resolve(),
        host=host,
        port=port,
        topic_root=root,
        max_queued_messages=max_queued,
    )
    for path in write(out, files):
        typer.echo(f"wrote {path}")
    typer.echo(f"ingest account: mqtt.username = {INGEST_USER!r}, mqtt.password = {password!r} (shown once)")
    typer.echo(
        f"start: mosquitto -c {out.resolve() / 'mosquitto.conf'}; devices: shopfloor devices add ID "
        f"--mosquitto-passwd {out.resolve() / 'passwd'}, then kill -HUP mosquitto"
    )
