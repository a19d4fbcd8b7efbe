"""``python -m shopfloor.edge --config edge.toml``: the edge agent without the rest of the CLI."""

from __future__ import annotations

import typer

from .cli import register

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
register(app)

if __name__ == "__main__":  # pragma: no cover
    app()
