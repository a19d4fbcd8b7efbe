"""The Modbus register map and OPC UA node map of the simulated PLCs (one source of truth).

Modbus: every machine is one Modbus device (unit id = its ``modbus_unit`` attribute) behind
one Modbus TCP server. Its tags are laid out in plant-file order from holding register 0;
function code 3 and 4 read the same map; setpoints are written with FC 6 (one-register
points) or FC 16. Encoding by tag type:

==========  ==========  ====  ========================================================
tag type    register    regs  encoding
==========  ==========  ====  ========================================================
float       float32     2     IEEE 754, big-endian words (ABCD), scale 1
float degC  int16       1     two's complement, value = raw / 10 (temperatures, %)
float %     int16       1     two's complement, value = raw / 10
int         uint32      2     big-endian words (high word first)
bool        uint16      1     0 / 1
str enum    uint16      1     index into the tag's enumeration
str         string16    8     16 ASCII bytes, two per register, high byte first, NUL-padded
==========  ==========  ====  ========================================================

>>> p = Point(1, 0, "a", "t", "float32", 1.0, False, None, None)
>>> p.encode(1.5), p.decode(p.encode(1.5))
([16320, 0], 1.5)
>>> q = Point(1, 2, "a", "temp", "int16", 10.0, True, -20.0, 150.0)
>>> q.encode(-12.3), q.decode([65413])
([65413], -12.3)

OPC UA: one server; a folder per ISA-95 level under Objects, a variable per tag with the
string node id ``ns=<urn:shopfloor:sim>;s=<asset path>/<tag>``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.sample import Value

if TYPE_CHECKING:
    from .simulation import Simulation

WIDTH = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "string16": 8}
OPCUA_NAMESPACE = "urn:shopfloor:sim"
OPCUA_TYPES = {"float": "Double", "int": "Int64", "bool": "Boolean", "str": "String"}
SCALED_UNITS = {"degC": 10.0, "%": 10.0}


@dataclass(frozen=True, slots=True)
class Point:
    """One tag's place in a device's register map."""

    unit: int
    address: int
    asset: str
    tag: str
    dtype: str
    scale: float
    writable: bool
    low: float | None
    high: float | None
    enum: tuple[str, ...] = ()
    eng_unit: str = ""

    @property
    def width(self) -> int:
        return WIDTH[self.dtype]

    def encode(self, value: Value) -> list[int]:
        """Registers for a value."""
        d = self.dtype
        if d == "float32":
            hi, lo = struct.unpack(">HH", struct.pack(">f", float(value)))
            return [hi, lo]
        if d == "int16":
            raw = max(-32768, min(32767, round(float(value) * self.scale)))
            return [raw & 0xFFFF]
        if d == "uint16":
            if self.enum:
                return [self.enum.index(str(value)) if str(value) in self.enum else 0xFFFF]
            return [max(0, min(0xFFFF, int(value)))]
        if d in ("uint32", "int32"):
            raw = int(value) & 0xFFFFFFFF
            return [raw >> 16, raw & 0xFFFF]
        data = str(value).encode("ascii", "replace")[:16].ljust(16, b"\0")
        return list(struct.unpack(">8H", data))

    def decode(self, regs: list[int]) -> Value:
        """The value held in registers (inverse of :meth:`encode`)."""
        d = self.dtype
        if d == "float32":
            return float(struct.unpack(">f", struct.pack(">HH", regs[0], regs[1]))[0])
        if d == "int16":
            raw = regs[0] - 0x10000 if regs[0] & 0x8000 else regs[0]
            return raw / self.scale
        if d == "uint16":
            if self.enum:
                return self.enum[regs[0]] if regs[0] < len(self.enum) else f"#{regs[0]}"
            return regs[0]
        if d in ("uint32", "int32"):
            raw = (regs[0] << 16) | regs[1]
            if d == "int32" and raw & 0x80000000:
                raw -= 1 << 32
            return raw
        return struct.pack(">8H", *regs[:8]).rstrip(b"\0").decode("ascii", "replace")


def _dtype(kind: str, unit: str, enum: tuple[str, ...]) -> tuple[str, float]:
    if kind == "float":
        scale = SCALED_UNITS.get(unit)
        return ("int16", scale) if scale else ("float32", 1.0)
    if kind == "int":
        return "uint32", 1.0
    if kind == "bool":
        return "uint16", 1.0
    return ("uint16", 1.0) if enum else ("string16", 1.0)


def modbus_map(sim: Simulation) -> dict[int, list[Point]]:
    """Register map per Modbus unit id, built from the plant file and the machine models."""
    out: dict[int, list[Point]] = {}
    used: set[int] = set()
    for i, (path, m) in enumerate(sim.machines.items(), start=1):
        unit = int(m.attrs.get("modbus_unit", i))
        if unit in used or not 1 <= unit <= 247:
            raise ValueError(f"{path}: modbus_unit {unit} is taken or outside 1..247")
        used.add(unit)
        addr = 0
        points = []
        for tag in m.tags:
            enum = m.specs[tag.name].enum
            dtype, scale = _dtype(tag.type, tag.unit, enum)
            p = Point(
                unit, addr, path, tag.name, dtype, scale, tag.writable, tag.low, tag.high, enum, tag.unit
            )
            points.append(p)
            addr += p.width
        out[unit] = points
    return out


def node_id(asset: str, tag: str) -> str:
    """The string identifier of a tag's OPC UA variable (within :data:`OPCUA_NAMESPACE`).

    >>> node_id("riverside/converting/line1/cutter", "cut_rate_sp")
    'riverside/converting/line1/cutter/cut_rate_sp'
    """
    return f"{asset}/{tag}"


def render_markdown(sim: Simulation) -> str:
    """The register and node maps as Markdown tables (for docs/sim.md)."""
    lines = ["### Modbus register map", ""]
    for unit, points in modbus_map(sim).items():
        asset = points[0].asset if points else "?"
        lines += [f"#### Unit {unit}: `{asset}` ({sim.machines[asset].kind})", ""]
        lines += [
            "| address | tag | type | scale | unit | access | range / values |",
            "|---|---|---|---|---|---|---|",
        ]
        for p in points:
            rng = (
                ", ".join(f"{i}={v}" for i, v in enumerate(p.enum))
                if p.enum
                else (f"{p.low:g} .. {p.high:g}" if p.low is not None and p.high is not None else "")
            )
            addr = f"{p.address}" if p.width == 1 else f"{p.address}-{p.address + p.width - 1}"
            acc = "R/W" if p.writable else "R"
            scale = f"/{p.scale:g}" if p.scale != 1 else "1"
            lines.append(f"| {addr} | {p.tag} | {p.dtype} | {scale} | {p.eng_unit} | {acc} | {rng} |")
        lines.append("")
    lines += ["### OPC UA node map", "", f"Namespace URI `{OPCUA_NAMESPACE}`; node ids are strings.", ""]
    lines += ["| node id (s=) | data type | access | unit |", "|---|---|---|---|"]
    for path, m in sim.machines.items():
        for tag in m.tags:
            acc = "read/write" if tag.writable else "read"
            lines.append(f"| `{node_id(path, tag.name)}` | {OPCUA_TYPES[tag.type]} | {acc} | {tag.unit} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    import sys

    from ..core.assets import Plant
    from .simulation import DEFAULT_PLANT, Simulation

    sys.stdout.write(render_markdown(Simulation(Plant.load(DEFAULT_PLANT), start_ns=0)))
