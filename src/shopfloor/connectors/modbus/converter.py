"""Pure Modbus helpers: group registers into read blocks, decode and encode values.

>>> from shopfloor.connectors.modbus.config import Register
>>> regs = [Register(asset="m", tag="a", address=0, type="float32"),
...         Register(asset="m", tag="b", address=2, type="int16", scale=0.1),
...         Register(asset="m", tag="c", address=40, type="uint16")]
>>> [(b.start, b.count, [r.tag for r in b.registers]) for b in group_blocks(regs, max_block=120, max_gap=8)]
[(0, 3, ['a', 'b']), (40, 1, ['c'])]
>>> decode(Register(asset="m", tag="t", address=0, type="int16", scale=0.1, offset=-5), [65413])
-17.3
>>> decode(Register(asset="m", tag="t", address=0, type="float32"), encode(Register(asset="m", tag="t",
...        address=0, type="float32"), 1.5))
1.5
>>> encode(Register(asset="m", tag="t", address=0, type="int32", word_order="little"), -2)
[65534, 65535]
>>> decode(Register(asset="m", tag="t", address=0, type="uint16", byte_order="little"), [0x0102])
513.0
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from .config import Register

_FMT = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "float32": "f", "float64": "d"}
_INTEGER = {"int16", "uint16", "int32", "uint32"}


@dataclass(frozen=True, slots=True)
class Block:
    """One read request: ``count`` registers from ``start`` in one table, and what they hold."""

    table: str
    start: int
    count: int
    registers: tuple[Register, ...]


def group_blocks(registers: list[Register], max_block: int = 120, max_gap: int = 8) -> list[Block]:
    """Fewest read requests covering every register: sorted by address, joined while the block
    stays within ``max_block`` registers and the hole between points is at most ``max_gap``."""
    out: list[Block] = []
    for table in ("holding", "input"):
        regs = sorted((r for r in registers if r.table == table), key=lambda r: r.address)
        cur: list[Register] = []
        start = end = 0
        for r in regs:
            r_end = r.address + r.width
            if cur and r.address - end <= max_gap and max(end, r_end) - start <= max_block:
                cur.append(r)
                end = max(end, r_end)
                continue
            if cur:
                out.append(Block(table, start, end - start, tuple(cur)))
            cur, start, end = [r], r.address, r_end
        if cur:
            out.append(Block(table, start, end - start, tuple(cur)))
    return out


def _to_bytes(reg: Register, words: list[int]) -> bytes:
    ws = list(words) if reg.word_order == "big" else list(reversed(words))
    if reg.byte_order == "little":
        ws = [((w & 0xFF) << 8) | (w >> 8) for w in ws]
    return struct.pack(f">{len(ws)}H", *ws)


def decode(reg: Register, words: list[int]) -> float:
    """The engineering value held in ``words`` (exactly ``reg.width`` registers)."""
    if len(words) != reg.width:
        raise ValueError(f"{reg.asset}/{reg.tag}: needs {reg.width} registers, got {len(words)}")
    raw = struct.unpack(">" + _FMT[reg.type], _to_bytes(reg, words))[0]
    value = float(raw) * reg.scale + reg.offset
    return round(value, 10) if reg.type in _INTEGER else value


def encode(reg: Register, value: float) -> list[int]:
    """Registers that make :func:`decode` return ``value`` (rounded to the register's resolution);
    ``ValueError`` if it is not finite or does not fit the type."""
    if not math.isfinite(value):
        raise ValueError(f"{reg.asset}/{reg.tag}: value {value!r} is not finite")
    raw = (value - reg.offset) / reg.scale
    if reg.type in _INTEGER:
        raw = round(raw)
    try:
        data = struct.pack(">" + _FMT[reg.type], raw)
    except struct.error as err:
        raise ValueError(f"{reg.asset}/{reg.tag}: value {value!r} does not fit {reg.type}") from err
    words = list(struct.unpack(f">{reg.width}H", data))
    if reg.byte_order == "little":
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    return words if reg.word_order == "big" else list(reversed(words))


def slice_block(block: Block, words: list[int]) -> list[tuple[Register, float | None, str | None]]:
    """Decode every register of a block read; a value that cannot be decoded carries its error."""
    out: list[tuple[Register, float | None, str | None]] = []
    for r in block.registers:
        off = r.address - block.start
        try:
            out.append((r, decode(r, words[off : off + r.width]), None))
        except (ValueError, struct.error) as err:
            out.append((r, None, str(err)))
    return out
