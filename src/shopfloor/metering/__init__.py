"""Product-as-a-service metering: contracts, tamper-evident usage records, monthly statements.

* :mod:`.contracts`: customer, asset, metric (run hours, cycles, units) and a tiered tariff
* :mod:`.usage`: usage measured from the stored samples of the contract's tag
* :mod:`.ledger`: usage records in a SHA-256 hash chain (SQLite), with :func:`~.ledger.verify`
* :mod:`.statement`: a month's statement as JSON, CSV or PDF

See docs/kpi.md ("Metering").
"""

from .contracts import Contract, Tariff, Tier, load_contracts
from .ledger import Ledger, Record, verify
from .statement import StatementError, build, month_range, render
from .usage import MeteringError, measure, quantity, record_usage

__all__ = [
    "Contract",
    "Ledger",
    "MeteringError",
    "Record",
    "StatementError",
    "Tariff",
    "Tier",
    "build",
    "load_contracts",
    "measure",
    "month_range",
    "quantity",
    "record_usage",
    "render",
    "verify",
]
