"""The one error tree of shopfloor.

Every error the library raises on purpose derives from :class:`ShopfloorError`.
Library errors (duckdb, sqlite3, amqtt, pymodbus, ...) are translated at the
boundary, ``raise StoreUnavailable(...) from err``, so callers only ever catch
these::

    ShopfloorError
    ├── ConfigError              a setting or configuration file is wrong (names it)
    ├── PlantModelError          the plant file (ISA-95 assets and tags) is invalid
    ├── UnitError                a unit is unknown or cannot be converted
    ├── IngestError              one incoming message was rejected (has ``reason``)
    │   ├── DecodeError          malformed payload (not JSON, wrong shape)
    │   ├── PayloadTooLarge      over the configured size limit
    │   ├── UnknownAsset         topic or body names an asset not in the plant
    │   ├── UnknownTag           the asset has no such tag
    │   ├── TypeMismatch         value of the wrong type for the tag
    │   │   └── NotFinite        NaN or infinity where a number is expected
    │   ├── BadUnit              unknown unit, or not convertible to the tag's unit
    │   └── BadTimestamp         unparseable, or too far in the future
    ├── BusError
    │   └── BusClosed            publishing to a bus that was closed
    ├── StoreError
    │   ├── StoreUnavailable     the backing database cannot be reached or opened
    │   └── QueryError           a query was malformed (bad bucket, range, ...)
    ├── BrokerError              the MQTT broker could not start or be reached
    ├── ConnectorError
    │   ├── DeviceUnavailable    a device did not answer
    │   └── ProtocolError        a device answered with an error
    ├── CommandRefused           a write was refused (interlock, limits, rights)
    └── AlarmError               an alarm action is not allowed in the alarm's state

Every :class:`IngestError` carries a short machine-readable ``reason``, used as
the label of the rejection counters and stored with the dead letter.

>>> err = UnknownTag("asset 'mill/line1/cutter' has no tag 'force'")
>>> isinstance(err, IngestError), err.reason
(True, 'unknown_tag')
"""

from __future__ import annotations


class ShopfloorError(Exception):
    """Base of every error shopfloor raises on purpose."""


class ConfigError(ShopfloorError):
    """A setting or configuration file is wrong; the message names it."""


class PlantModelError(ShopfloorError):
    """The plant file is invalid; the message names the asset or tag."""


class UnitError(ShopfloorError):
    """A unit is unknown, or two units cannot be converted into each other."""


class IngestError(ShopfloorError):
    """One incoming message (or one sample of it) was rejected."""

    reason = "rejected"


class DecodeError(IngestError):
    reason = "malformed"


class PayloadTooLarge(IngestError):
    reason = "oversized"


class UnknownAsset(IngestError):
    reason = "unknown_asset"


class UnknownTag(IngestError):
    reason = "unknown_tag"


class TypeMismatch(IngestError):
    reason = "wrong_type"


class NotFinite(TypeMismatch):
    reason = "not_finite"


class BadUnit(IngestError):
    reason = "bad_unit"


class BadTimestamp(IngestError):
    reason = "bad_timestamp"


class BusError(ShopfloorError):
    """The message bus failed."""


class BusClosed(BusError):
    """Publish or subscribe on a bus that has been closed."""


class StoreError(ShopfloorError):
    """The time-series or state store failed."""


class StoreUnavailable(StoreError):
    """The backing database cannot be opened or reached."""


class QueryError(StoreError):
    """A query was malformed: unknown aggregate, bad bucket, empty range..."""


class BrokerError(ShopfloorError):
    """The MQTT broker could not start, or could not be reached."""


class ConnectorError(ShopfloorError):
    """A device connector failed."""


class DeviceUnavailable(ConnectorError):
    """A device did not answer (timeout, connection refused)."""


class ProtocolError(ConnectorError):
    """A device answered with a protocol-level error."""


class CommandRefused(ShopfloorError):
    """A command or setpoint write was refused; the message says why."""


class AlarmError(ShopfloorError):
    """An alarm action (acknowledge, shelve, ...) is not allowed in the alarm's current state."""
