"""The ``shopfloor`` command: a thin shell over the library.

Every command has ``--help`` with an example. Errors are one clear line plus a hint,
exit status 2.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from .core.errors import ShopfloorError

app = typer.Typer(
    name="shopfloor",
    help="shopfloor: open-source Industrial IoT platform.\n\nStart here: `shopfloor demo`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
plant_app = typer.Typer(
    help="Inspect and validate plant files (ISA-95 assets and tags).", no_args_is_help=True
)
dl_app = typer.Typer(help="Dead letters: rejected inputs with their reason.", no_args_is_help=True)
app.add_typer(plant_app, name="plant")
app.add_typer(dl_app, name="deadletters")

#: Modules that add their own commands: each exposes ``register(app: typer.Typer)`` and
#: keeps heavy imports inside its command functions so ``shopfloor --help`` stays fast.
PLUGINS: tuple[str, ...] = (
    "shopfloor.maintenance.cli",
    "shopfloor.tinyml.cli",
    "shopfloor.security.cli",
    "shopfloor.edge.cli",
    "shopfloor.field.cli",
    "shopfloor.report.cli",
    "shopfloor.broker.cli",
)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML settings file.")]
DataOpt = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default ./data).")]


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("amqtt", "transitions", "pymodbus", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("asyncua").setLevel(logging.ERROR)


def _settings(config: Path | None, data_dir: Path | None = None, **api: Any) -> Any:
    from .core.settings import load_settings

    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    api_over = {k: v for k, v in api.items() if v is not None}
    if api_over:
        overrides["api"] = api_over
    return load_settings(config, overrides)


def _run(coro: Any) -> Any:
    """Run the command's coroutine; Ctrl-C / SIGTERM end it cleanly."""
    return asyncio.run(coro)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass


@app.command()
def demo(
    config: ConfigOpt = None,
    data_dir: DataOpt = None,
    port: Annotated[int | None, typer.Option(help="Dashboard/API port (default 8080).")] = None,
    duration: Annotated[float | None, typer.Option(help="Run this many seconds, then exit.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulated plant.")] = 0,
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 1.0,
    modbus_port: Annotated[
        int, typer.Option(help="Modbus TCP port of the simulated PLCs (0 = free).")
    ] = 5020,
    opcua_port: Annotated[int, typer.Option(help="OPC UA port of the simulated PLCs (0 = free).")] = 4840,
) -> None:
    """Run the whole embedded platform with the simulated paper mill.

    Example: shopfloor demo --duration 30   (dashboard on http://127.0.0.1:8080)
    """
    from .service import Platform, run_platform
    from .sim import Simulation, run_realtime

    settings = _settings(config, data_dir, port=port)
    settings.security.profile = "demo"  # issue 8: demo is not secured and must stay on loopback
    _setup_logging(settings.log_level)
    log = logging.getLogger("shopfloor")

    async def main() -> None:
        platform = Platform(settings)
        stop = asyncio.Event()
        _stop_on_signals(stop)

        async def plant(p: Platform, stop_event: asyncio.Event) -> None:
            # Faster than real time replays the last day quickly, then carries on in real time,
            # so no sample is ever stamped in the future.
            start = None if speed <= 1 else time.time_ns() - 86_400 * 10**9
            sim = Simulation(p.plant, seed=seed, start_ns=start)

            def ready(endpoints: Any) -> None:
                log.info(
                    "simulated PLCs: modbus tcp 127.0.0.1:%s, %s; sensors publish to mqtt %s",
                    endpoints.modbus_port,
                    endpoints.opcua_url,
                    endpoints.mqtt,
                )

            await run_realtime(
                sim,
                speed=speed,
                mqtt=(settings.mqtt.host, p.mqtt_port or settings.mqtt.port),
                modbus_port=modbus_port,
                opcua_port=opcua_port,
                stop=stop_event,
                ready=ready,
                max_ahead_s=0 if speed > 1 else None,
            )

        log.warning("demo mode: bound to %s, NOT secured (no authentication, no TLS)", settings.api.host)
        log.info("dashboard: http://%s:%d  (Ctrl-C stops)", settings.api.host, settings.api.port)
        await run_platform(platform, duration_s=duration, stop=stop, extra=plant)
        log.info("stopped cleanly; data kept in %s", settings.data_dir)

    _run(main())


@app.command()
def up(
    config: ConfigOpt = None,
    data_dir: DataOpt = None,
    port: Annotated[int | None, typer.Option(help="API port.")] = None,
    duration: Annotated[float | None, typer.Option(help="Run this many seconds, then exit.")] = None,
) -> None:
    """Run the platform without the simulated plant (embedded, or production with --config).

    Examples: shopfloor up
              shopfloor up --config examples/prod.toml   (Mosquitto, NATS JetStream, PostgreSQL)
    """
    from .service import Platform, run_platform

    settings = _settings(config, data_dir, port=port)
    _setup_logging(settings.log_level)

    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        await run_platform(Platform(settings), duration_s=duration, stop=stop)

    _run(main())


@app.command()
def worker(
    role: Annotated[
        list[str], typer.Option("--role", "-r", help="ingest, writer, rules, analytics or api (repeatable).")
    ],
    config: ConfigOpt = None,
    data_dir: DataOpt = None,
    port: Annotated[int | None, typer.Option(help="API port (api role).")] = None,
    duration: Annotated[float | None, typer.Option(help="Run this many seconds, then exit.")] = None,
) -> None:
    """Run some roles of the platform in production mode; start any number, on any hosts.

    Ingest workers share the broker's topic tree with mqtt.shared_group (each with its own
    mqtt.client_id); writer workers share one durable JetStream consumer.
    Example: shopfloor worker --role ingest --config examples/prod.toml
    """
    from .service import Platform, run_platform

    settings = _settings(config, data_dir, port=port)
    _setup_logging(settings.log_level)
    if settings.mode != "production":
        raise ShopfloorError(
            "setting mode: `shopfloor worker` needs mode = 'production' (see examples/prod.toml)"
        )

    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        await run_platform(Platform(settings, roles=frozenset(role)), duration_s=duration, stop=stop)

    _run(main())


@app.command()
def sim(
    plant: Annotated[Path | None, typer.Option(help="Plant file (default: the paper mill).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same plant).")] = 0,
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 1.0,
    mqtt: Annotated[str | None, typer.Option(help="Publish to this broker, host:port.")] = None,
    modbus_port: Annotated[int | None, typer.Option(help="Serve Modbus TCP on this port.")] = None,
    opcua_port: Annotated[int | None, typer.Option(help="Serve OPC UA on this port.")] = None,
    duration: Annotated[float | None, typer.Option(help="Run this many wall-clock seconds.")] = None,
    backfill: Annotated[
        str | None, typer.Option(help="Write this much history (e.g. 30d) into the store, then exit.")
    ] = None,
    tick: Annotated[
        float,
        typer.Option(
            help="Simulated seconds between samples for --backfill "
            "(1 s for a month takes 1.5-2 h; 60 s about 5 min)."
        ),
    ] = 60.0,
    data_dir: DataOpt = None,
    ground_truth: Annotated[
        Path | None, typer.Option(help="Write the ground truth (faults, wear) as CSV here.")
    ] = None,
) -> None:
    """Run the simulated plant on its own, or backfill history into the embedded store.

    Examples: shopfloor sim --mqtt 127.0.0.1:1883 --modbus-port 5020 --opcua-port 4840
              shopfloor sim --backfill 30d --tick 60
    """
    from rich.progress import Progress

    from .core.assets import Plant
    from .core.clock import NS, now_ns, parse_duration
    from .sim import DEFAULT_PLANT, Simulation, run_realtime
    from .sim import backfill as run_backfill

    settings = _settings(None, data_dir)
    _setup_logging(settings.log_level)
    model = Plant.load(plant or DEFAULT_PLANT)

    async def main() -> None:
        if backfill:
            from .store.embedded import EmbeddedStore

            span_ns = parse_duration(backfill)
            simulation = Simulation(model, seed=seed, start_ns=now_ns() - span_ns)
            store = EmbeddedStore(Path(settings.data_dir) / "timeseries.duckdb", settings.store)
            await store.open()
            try:
                with Progress() as bar:
                    task = bar.add_task(f"backfill {backfill}", total=1.0)
                    n = await run_backfill(
                        simulation,
                        store.write,
                        span_ns / NS,
                        tick_s=tick,
                        progress=lambda f: bar.update(task, completed=f),
                    )
            finally:
                await store.close()
            typer.echo(f"wrote {n} samples covering {backfill} into {settings.data_dir}")
        else:
            simulation = Simulation(model, seed=seed)
            stop = asyncio.Event()
            _stop_on_signals(stop)
            broker = None
            if mqtt:
                host, _, p = mqtt.rpartition(":")
                broker = (host or "127.0.0.1", int(p))
            await run_realtime(
                simulation,
                speed=speed,
                mqtt=broker,
                modbus_port=modbus_port,
                opcua_port=opcua_port,
                stop=stop,
                duration_s=None if duration is None else duration * speed,
            )
        if ground_truth:
            simulation.ground_truth.to_csv(ground_truth)
            typer.echo(f"ground truth written to {ground_truth}")

    _run(main())


@app.command()
def bench(
    name: Annotated[str, typer.Argument(help="ingest | store | detect | ... (see shopfloor.bench.REGISTRY)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")] = False,
    duration: Annotated[float, typer.Option(help="Seconds per measured phase (ingest).")] = 30.0,
    points: Annotated[int, typer.Option(help="Points to store (store).")] = 10_000_000,
    broker: Annotated[
        str | None, typer.Option(help="ingest: amqtt, rumqttd, or compare (both side by side).")
    ] = None,
    backend: Annotated[
        str, typer.Option(help="store: embedded or postgres (store.postgres_dsn).")
    ] = "embedded",
) -> None:
    """Measure one thing end to end, side by side with its reference.

    Examples: shopfloor bench ingest --json
              shopfloor bench store --json
              shopfloor bench store --backend postgres --points 1000000 --json
    """
    _setup_logging("WARNING")
    if name == "ingest":
        from .bench.ingest import run as run_ingest

        if broker not in (None, "amqtt", "rumqttd", "compare"):
            raise ShopfloorError(f"--broker {broker!r}: choose amqtt, rumqttd or compare")
        result = run_ingest(duration_s=duration, broker=broker)
    elif name == "store":
        if backend == "postgres":
            from .bench.store_pg import run as run_store_pg

            result = run_store_pg(points=points)
        elif backend == "embedded":
            from .bench.store import run as run_store

            result = run_store(points=points)
        else:
            raise ShopfloorError(f"--backend {backend!r}: choose embedded or postgres")
    else:
        from .bench import run_bench

        result = run_bench(name, duration_s=duration, points=points, broker=broker, backend=backend)
    text = json.dumps(result, default=str)
    if not as_json:
        typer.echo(json.dumps(result, indent=2, default=str))
    typer.echo(text)


@app.command("eval")
def evaluate(
    suite: Annotated[
        str,
        typer.Argument(help="skab | nab | tep | cmapss | cwru | ai4i | ... (see shopfloor.evals.REGISTRY)"),
    ],
    data: Annotated[
        Path | None, typer.Option("--data", help="Data set directory (none for self-generating suites).")
    ] = None,
    test_data: Annotated[
        Path | None, typer.Option("--test-data", help="Separate test directory (tep, cwru).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")] = False,
) -> None:
    """Run a published evaluation protocol on a benchmark data set.

    Example: shopfloor eval skab --data ../shared/datasets/skab --json
    """
    from rich.progress import Progress

    from .evals import run_suite

    _setup_logging("WARNING")
    with Progress(transient=True, disable=as_json) as bar:
        task = bar.add_task(f"eval {suite}", total=1.0)

        def progress(what: str, fraction: float) -> None:
            bar.update(task, completed=fraction, description=f"eval {suite}: {what}")

        result = run_suite(suite, data, test_data, progress=progress)
    if not as_json:
        typer.echo(json.dumps(result, indent=2, default=str))
    typer.echo(json.dumps(result, default=str))


@app.command()
def settings(
    config: ConfigOpt = None,
    check: Annotated[bool, typer.Option(help="Only validate the settings and print them.")] = False,
) -> None:
    """Print the settings reference (Markdown), or validate a settings file with --check.

    Examples: shopfloor settings > docs/settings.md
              shopfloor settings --check --config shopfloor.toml
    """
    from .core.settings import settings_reference

    if check:
        typer.echo(_settings(config).model_dump_json(indent=2))
    else:
        typer.echo(settings_reference(), nl=False)


@plant_app.command("validate")
def plant_validate(path: Path) -> None:
    """Check a plant file; print a summary or the first error.

    Example: shopfloor plant validate plant.toml
    """
    from .core.assets import Plant

    p = Plant.load(path)
    tags = sum(1 for _ in p.tags())
    typer.echo(f"{path}: OK, {len(p)} assets, {tags} tags ({p.name})")


@plant_app.command("show")
def plant_show(path: Annotated[Path | None, typer.Argument()] = None) -> None:
    """Print the asset tree of a plant file (default: the simulated paper mill).

    Example: shopfloor plant show
    """
    from .core.assets import Plant
    from .sim import DEFAULT_PLANT

    p = Plant.load(path or DEFAULT_PLANT)

    def walk(nodes: list[dict[str, Any]], depth: int) -> None:
        for n in nodes:
            typer.echo(
                f"{'  ' * depth}{n['path'].rsplit('/', 1)[-1]:<24} {n['level']:<10} {len(n['tags'])} tags"
            )
            walk(n["children"], depth + 1)

    typer.echo(f"{p.name} ({p.enterprise})")
    walk(p.tree(), 1)


@app.command()
def export(
    out: Annotated[Path, typer.Argument(help="Output file (.csv or .parquet).")],
    start: Annotated[str, typer.Option(help="ISO time, epoch, or relative like -1d.")] = "-1d",
    end: Annotated[str, typer.Option(help="ISO time, epoch, relative, or now.")] = "now",
    asset: Annotated[str | None, typer.Option(help="Only this asset and the assets below it.")] = None,
    url: Annotated[
        str | None, typer.Option(help="A running platform's URL, e.g. http://127.0.0.1:8080.")
    ] = None,
    data_dir: DataOpt = None,
) -> None:
    """Export samples to CSV or Parquet, from the store or from a running platform.

    The embedded store's file is locked by a running platform: pass --url to export through it.
    Example: shopfloor export week.parquet --start -7d --asset riverside/converting
    """
    from .core.clock import parse_when

    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("csv", "parquet"):
        raise ShopfloorError(f"output {str(out)!r} must end in .csv or .parquet")

    def when(text: str) -> int:
        try:
            return parse_when(text)
        except ValueError as err:
            raise ShopfloorError(f"--start/--end: {err}") from None

    t_start, t_end = when(start), when(end)
    if url:
        import httpx

        params = {"format": fmt, "start": str(t_start), "end": str(t_end)}
        if asset:
            params["asset"] = asset
        try:
            with httpx.stream("GET", url.rstrip("/") + "/api/v1/export", params=params, timeout=600) as r:
                if r.status_code != 200:
                    r.read()
                    raise ShopfloorError(f"export failed: HTTP {r.status_code}: {r.text}")
                with out.open("wb") as fh:
                    for chunk in r.iter_bytes():
                        fh.write(chunk)
        except httpx.HTTPError as err:
            raise ShopfloorError(f"cannot reach {url}: {err}") from None
        typer.echo(f"wrote {out}")
        return
    from .store.embedded import EmbeddedStore

    settings = _settings(None, data_dir)

    async def main() -> int:
        store = EmbeddedStore(Path(settings.data_dir) / "timeseries.duckdb", settings.store)
        await store.open()
        try:
            return await store.export(out, fmt, t_start, t_end, asset)  # type: ignore[arg-type]
        finally:
            await store.close()

    n = _run(main())
    typer.echo(f"wrote {n} rows to {out}")


@dl_app.command("list")
def deadletters_list(
    data_dir: DataOpt = None,
    reason: Annotated[str | None, typer.Option(help="Only this reason, e.g. unknown_tag.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
) -> None:
    """List dead letters from the state store (works while the platform runs).

    Example: shopfloor deadletters list --reason malformed
    """
    from .store.state import StateStore

    settings = _settings(None, data_dir)

    async def main() -> None:
        state = StateStore(Path(settings.data_dir) / "state.db")
        await state.open()
        try:
            counts = await state.dead_letter_counts()
            rows = await state.dead_letters(limit=limit, reason=reason)
        finally:
            await state.close()
        typer.echo(f"counts: {json.dumps(counts)}")
        for r in rows:
            typer.echo(f"{r['ts']} {r['source']:<5} {r['reason']:<14} {r['topic']}  {r['error']}")

    _run(main())


def _register_plugins() -> None:
    import importlib

    for module_name in PLUGINS:
        importlib.import_module(module_name).register(app)


_register_plugins()


def main() -> None:
    try:
        app()
    except ShopfloorError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        typer.echo("hint: run with --help for usage; settings are documented in docs/settings.md", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
