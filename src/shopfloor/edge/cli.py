"""``shopfloor edge``: run the edge agent next to the machines."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from ..core.errors import ShopfloorError


def register(app: typer.Typer) -> None:
    """Add the ``edge`` command to the ``shopfloor`` CLI."""

    @app.command("edge")
    def edge(
        config: Annotated[Path, typer.Option("--config", "-c", help="Edge agent TOML file.")],
        log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING.")] = "INFO",
        check: Annotated[bool, typer.Option("--check", help="Validate the config and exit.")] = False,
    ) -> None:
        """Run the edge agent: poll Modbus, subscribe OPC UA and MQTT sensors, buffer, forward.

        Example: shopfloor edge --config examples/edge.toml
        """
        from .config import load_edge_config

        logging.basicConfig(
            level=getattr(logging, log_level.upper(), logging.INFO),
            format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
            datefmt="%H:%M:%S",
        )
        for noisy in ("pymodbus", "asyncua", "transitions"):
            logging.getLogger(noisy).setLevel(logging.CRITICAL)
        try:
            cfg = load_edge_config(config)
        except ShopfloorError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        if check:
            n_opc = sum(len(s.nodes) for s in cfg.opcua)
            n_mb = sum(len(d.registers) for d in cfg.modbus)
            typer.echo(f"ok: agent {cfg.agent_id}, {n_mb} Modbus registers, {n_opc} OPC UA nodes")
            return
        try:
            asyncio.run(_serve(cfg))
        except ShopfloorError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None


async def _serve(cfg: object) -> None:
    from .agent import EdgeAgent

    agent = EdgeAgent(cfg)  # type: ignore[arg-type]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    await agent.start()
    try:
        await stop.wait()
    finally:
        await agent.stop()
