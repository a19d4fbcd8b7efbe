"""``shopfloor field story|ingest|feedback|alarms|trace|report``: products in the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

field_app = typer.Typer(
    help="Products in the field, customer feedback, genealogy (see docs/field.md).", no_args_is_help=True
)
DbOpt = Annotated[Path, typer.Option("--db", help="Field records (SQLite).")]
DEFAULT_DB = Path("data/field.db")


def register(app: typer.Typer) -> None:
    app.add_typer(field_app, name="field")


def _service(db: Path) -> Any:
    from .service import FieldService, FieldSettings

    return FieldService(FieldSettings(db=str(db)))


def _echo(obj: Any) -> None:
    typer.echo(json.dumps(obj, default=str))


@field_app.command("story")
def story(
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 7,
    days: Annotated[float, typer.Option(help="Days of production.")] = 6.0,
    field_days: Annotated[float, typer.Option(help="Days the products spend in the field.")] = 75.0,
    db: Annotated[str, typer.Option("--db", help="Keep the records here (default: in memory).")] = ":memory:",
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole report as one JSON line.")] = False,
) -> None:
    """Simulate production with a planted excursion, the field and the complaints; find the bad batch.

    Example: shopfloor field story --seed 7
    """
    import logging

    from .story import run_story

    logging.getLogger("shopfloor.field").setLevel(logging.ERROR)  # the spikes are printed below
    r = run_story(seed=seed, days=days, field_days=field_days, db=db)
    if as_json:
        _echo(r)
        return
    t = r["truth"]
    typer.echo(
        f"{r['units']} units in the field, {r['failures']} failed; {r['feedback']['messages']} messages"
    )
    for s in r["summary"]:
        typer.echo(
            f"  short field life: {s['batch']} ({s['line']}) cause: {s['cause'] or '?'}"
            f"{'  [also too many complaints]' if s['also_by_complaints'] else ''}"
        )
    for a in r["spike_alarms"]:
        typer.echo(
            f"  complaint spike: {a['count']} x {a['topic']} by {a['time']} (expected {a['expected']:.1f})"
        )
    typer.echo(f"planted by the simulator: {t['tag']} on {t['asset']} in batch {t['batch']}")


@field_app.command("ingest")
def ingest(
    file: Annotated[Path, typer.Argument(help=".jsonl, .json or .csv with a text column")],
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Read feedback texts from a file into the field records; print accepted/rejected/alarms.

    Example: shopfloor field ingest tickets.jsonl --db data/field.db
    """
    from .files import read_feedback_file

    svc = _service(db)
    try:
        _echo(svc.ingest_feedback(read_feedback_file(file)))
    finally:
        svc.store.close()


@field_app.command("feedback")
def feedback(
    topic: Annotated[str | None, typer.Option(help="Only this topic.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 20,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Latest feedback with its reading (JSON lines). Example: shopfloor field feedback --topic warp"""
    svc = _service(db)
    for row in svc.store.feedback(topic=topic, limit=limit):
        _echo(row)
    svc.store.close()


@field_app.command("alarms")
def alarms(db: DbOpt = DEFAULT_DB) -> None:
    """Complaint-spike alarms (JSON lines). Example: shopfloor field alarms"""
    svc = _service(db)
    for row in svc.store.alarms():
        _echo(row)
    svc.store.close()


@field_app.command("trace")
def trace(serial: str, db: DbOpt = DEFAULT_DB) -> None:
    """Serial number -> batch, machines, settings, material, quality.

    Example: shopfloor field trace L1-20260103-0014-00007
    """
    svc = _service(db)
    try:
        _echo(svc.trace(serial))
    finally:
        svc.store.close()


@field_app.command("report")
def report(db: DbOpt = DEFAULT_DB) -> None:
    """Batches with short field life or many complaints, causes, fleet model and forecast (JSON).

    Example: shopfloor field report --db data/field.db
    """
    svc = _service(db)
    try:
        _echo(svc.batch_report())
    finally:
        svc.store.close()
