"""``shopfloor report|metering|aas|interop ...``: KPI reports, usage metering and interoperability.

These commands open the embedded store under ``--data-dir`` (stop the platform first: DuckDB
locks its file to one process) or, for ``interop opcua``, follow a running platform's API.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ..core.errors import ShopfloorError

report_app = typer.Typer(help="Reports from stored data (see docs/kpi.md).", no_args_is_help=True)
metering_app = typer.Typer(help="Product-as-a-service metering (see docs/kpi.md).", no_args_is_help=True)
aas_app = typer.Typer(
    help="Asset Administration Shell export/import (see docs/interop.md).", no_args_is_help=True
)
interop_app = typer.Typer(help="OPC UA server and Grafana views (see docs/interop.md).", no_args_is_help=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default from settings).")]
Config = Annotated[Path | None, typer.Option("--config", "-c", help="TOML settings file.")]


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
    app.add_typer(metering_app, name="metering")
    app.add_typer(aas_app, name="aas")
    app.add_typer(interop_app, name="interop")


def _when(text: str) -> int:
    from ..core.clock import parse_when

    try:
        return parse_when(text)
    except ValueError as err:
        raise ShopfloorError(f"time {text!r}: {err}") from None


def _settings(config: Path | None, data_dir: Path | None) -> Any:
    from ..core.settings import load_settings

    return load_settings(config, {"data_dir": data_dir} if data_dir is not None else {})


def _plant(settings: Any) -> Any:
    from ..core.assets import Plant
    from ..sim.simulation import DEFAULT_PLANT

    return Plant.load(settings.plant or DEFAULT_PLANT)


async def _with_store(settings: Any, fn: Any) -> Any:
    from ..store.embedded import EmbeddedStore

    store = EmbeddedStore(Path(settings.data_dir) / "timeseries.duckdb", settings.store)
    await store.open()
    try:
        return await fn(store)
    finally:
        await store.close()


@report_app.command("pilot")
def pilot_command(
    start: Annotated[str, typer.Option("--from", help="Pilot start: ISO time, epoch or relative (-7d).")],
    end: Annotated[str, typer.Option("--to", help="Pilot end: ISO time, epoch, relative or now.")] = "now",
    baseline_from: Annotated[
        str | None, typer.Option("--baseline-from", help="Baseline start (default: as long, just before).")
    ] = None,
    baseline_to: Annotated[str | None, typer.Option("--baseline-to", help="Baseline end.")] = None,
    economics: Annotated[
        Path | None, typer.Option("--economics", help="TOML with [economics] costs and prices.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("pilot-report.html"),
    asset: Annotated[list[str] | None, typer.Option("--asset", help="Only these machines (repeat).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the numbers as one JSON line.")] = False,
    data_dir: DataDir = None,
    config: Config = None,
) -> None:
    """Pilot ROI report: downtime avoided, scrap reduced, energy saved against a baseline, and ROI.

    Example: shopfloor report pilot --from 2026-11-16 --to 2026-11-23 --baseline-from 2026-11-01
    --baseline-to 2026-11-08 --economics economics.toml -o pilot.html (economics.toml: docs/kpi.md)
    """
    from . import Economics, pilot_report

    p0, p1 = _when(start), _when(end)
    if p1 <= p0:
        raise ShopfloorError("--to must be after --from")
    b0 = _when(baseline_from) if baseline_from else p0 - (p1 - p0)
    b1 = _when(baseline_to) if baseline_to else p0
    if b1 <= b0:
        raise ShopfloorError("--baseline-to must be after --baseline-from")
    econ = Economics.load(economics) if economics else Economics()
    settings = _settings(config, data_dir)
    plant = _plant(settings)
    result, html = asyncio.run(
        _with_store(settings, lambda s: pilot_report(s, plant, (b0, b1), (p0, p1), econ, asset or None))
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    if as_json:
        typer.echo(json.dumps({k: v for k, v in result.items() if k != "machines"}, default=str))
        return
    cur = result["currency"]
    typer.echo(
        f"downtime avoided {result['downtime_avoided_h']:.2f} h, scrap avoided "
        f"{result['scrap_avoided_units']:,.0f} units, energy saved {result['energy_saved_kwh']:,.1f} kWh; "
        f"annualised savings {result['annual_savings']:,.0f} {cur}"
    )
    typer.echo(f"wrote {out}")


def _contracts(path: Path) -> list[Any]:
    from ..metering import load_contracts

    return load_contracts(path)


@metering_app.command("record")
def metering_record(
    contracts: Annotated[Path, typer.Option("--contracts", help="Contracts file (TOML).")],
    start: Annotated[str, typer.Option("--from", help="Period start (ISO, epoch, relative).")],
    end: Annotated[str, typer.Option("--to", help="Period end.")] = "now",
    data_dir: DataDir = None,
    config: Config = None,
) -> None:
    """Measure each contract's usage in the period and append it to the tamper-evident ledger.

    Example: shopfloor metering record --contracts contracts.toml --from 2026-11-24 --to 2026-11-25
    """
    from ..metering import Ledger, record_usage

    settings = _settings(config, data_dir)
    items = _contracts(contracts)
    t0, t1 = _when(start), _when(end)

    async def main(store: Any) -> list[Any]:
        ledger = await Ledger(Path(settings.data_dir) / "metering.db").open()
        try:
            return await record_usage(store, ledger, items, t0, t1)
        finally:
            await ledger.close()

    for r in asyncio.run(_with_store(settings, main)):
        b = r.body
        note = f"  ({b['note']})" if "note" in b else ""
        typer.echo(f"#{r.seq} {b['contract']}: {b['quantity']:g} {b['unit']}{note}")


@metering_app.command("statement")
def metering_statement(
    contracts: Annotated[Path, typer.Option("--contracts", help="Contracts file (TOML).")],
    contract: Annotated[str, typer.Option("--contract", help="Contract id.")],
    month: Annotated[str, typer.Option("--month", help="YYYY-MM (UTC).")],
    fmt: Annotated[str, typer.Option("--format", help="csv, json or pdf.")] = "json",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="File (default: stdout for csv/json).")
    ] = None,
    data_dir: DataDir = None,
    config: Config = None,
) -> None:
    """A month's statement of one contract, with the hash chain verified.

    Example: shopfloor metering statement --contracts contracts.toml --contract c-1001 --month 2026-11
    --format pdf -o c-1001-2026-11.pdf
    """
    from ..metering import Ledger, build, render

    settings = _settings(config, data_dir)
    found = {c.id: c for c in _contracts(contracts)}
    if contract not in found:
        raise ShopfloorError(f"no contract {contract!r} in {contracts} (have: {', '.join(sorted(found))})")

    async def main() -> bytes:
        ledger = await Ledger(Path(settings.data_dir) / "metering.db").open()
        try:
            records = await ledger.records()
            return render(build(found[contract], month, records, await ledger.verify()), fmt)
        finally:
            await ledger.close()

    data = asyncio.run(main())
    if out is None:
        if fmt == "pdf":
            raise ShopfloorError("a PDF statement needs --out FILE")
        typer.echo(data.decode(), nl=False)
        return
    out.write_bytes(data)
    typer.echo(f"wrote {out}")


@metering_app.command("verify")
def metering_verify(
    anchor: Annotated[
        str | None, typer.Option("--anchor", help="SEQ:HASH of a known head (detects a cut-off tail).")
    ] = None,
    data_dir: DataDir = None,
    config: Config = None,
) -> None:
    """Verify the usage hash chain; exit code 1 if it was tampered with.

    Example: shopfloor metering verify --anchor 42:9f2c...
    """
    from ..metering import Ledger

    settings = _settings(config, data_dir)
    head = None
    if anchor:
        seq, _, digest = anchor.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise ShopfloorError(f"--anchor {anchor!r} must be SEQ:HASH (64 hex digits)")
        head = (int(seq), digest)

    async def main() -> Any:
        ledger = await Ledger(Path(settings.data_dir) / "metering.db").open()
        try:
            return await ledger.verify(head), await ledger.head()
        finally:
            await ledger.close()

    result, (seq, digest) = asyncio.run(main())
    if result.ok:
        typer.echo(f"ok: {result.checked} records, head {seq}:{digest}")
        return
    for problem in result.problems:
        typer.echo(problem, err=True)
    raise typer.Exit(1)


@aas_app.command("export")
def aas_export(
    out: Annotated[Path, typer.Argument(help="AAS file to write (.json or .xml).")],
    plant_file: Annotated[
        Path | None, typer.Option("--plant", help="Plant file (default: settings).")
    ] = None,
    endpoint: Annotated[
        str, typer.Option(help="History API the time-series references point at.")
    ] = "http://127.0.0.1:8080/api/v1/history",
    config: Config = None,
) -> None:
    """Export the asset model as Asset Administration Shells (AAS v3).

    Example: shopfloor aas export plant.aas.json --endpoint https://iiot.example.com/api/v1/history
    """
    from ..core.assets import Plant
    from ..interop.aas import export_plant

    plant = Plant.load(plant_file) if plant_file else _plant(_settings(config, None))
    n = export_plant(plant, out, endpoint)
    typer.echo(f"wrote {n} shells to {out}")


@aas_app.command("import")
def aas_import(
    source: Annotated[Path, typer.Argument(help="AAS file (.json or .xml).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Plant file to write (YAML).")] = Path(
        "plant.yaml"
    ),
) -> None:
    """Import Asset Administration Shells into a plant file (YAML; load it with --plant or settings).

    Example: shopfloor aas import plant.aas.json -o plant.yaml
    """
    import yaml

    from ..interop.aas import import_plant

    plant = import_plant(source)
    out.write_text(yaml.safe_dump(plant.to_dict(), sort_keys=False, allow_unicode=True), encoding="utf-8")
    typer.echo(f"wrote {len(plant)} assets to {out}")


@interop_app.command("grafana-views")
def grafana_views(
    dsn: Annotated[str, typer.Option(help="PostgreSQL DSN of the store.")],
    schema: Annotated[str, typer.Option(help="The store's schema.")] = "shopfloor",
    drop: Annotated[bool, typer.Option("--drop", help="Drop the views instead.")] = False,
) -> None:
    """Create (or drop) the SQL views Grafana charts directly.

    Example: shopfloor interop grafana-views --dsn postgresql://grafana@db/iiot --schema shopfloor
    """
    from ..interop.grafana import create_views, drop_views

    if drop:
        asyncio.run(drop_views(dsn, schema))
        typer.echo(f"dropped the views in {schema}")
        return
    for name in asyncio.run(create_views(dsn, schema)):
        typer.echo(name)


@interop_app.command("opcua")
def opcua_serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="OPC UA port.")] = 4841,
    url: Annotated[str, typer.Option(help="The running platform to follow.")] = "http://127.0.0.1:8080",
    token: Annotated[str | None, typer.Option(envvar="SHOPFLOOR_TOKEN", help="API token (sft_...).")] = None,
    period: Annotated[float, typer.Option(help="Seconds between updates.")] = 1.0,
    config: Config = None,
) -> None:
    """Serve the asset model and live values over OPC UA, following a running platform's API.

    Example: shopfloor interop opcua --port 4841 --url http://127.0.0.1:8080 --token sft_...
    """
    from ..interop.opcua import ApiLatest, PlantServer

    plant = _plant(_settings(config, None))

    async def main() -> None:
        server = PlantServer(plant, host, port)
        await server.start()
        typer.echo(f"OPC UA on {server.url}; following {url} (Ctrl-C to stop)")
        try:
            await server.follow(ApiLatest(url, token), period)
        finally:
            await server.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
