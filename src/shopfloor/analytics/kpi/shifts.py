"""Shift calendars: cut a window into named shifts (UTC) for per-shift OEE."""

from __future__ import annotations

from collections.abc import Sequence

from .oee import NS, KpiInputError


def shift_windows(start: int, end: int, shifts: Sequence[tuple[str, str, str]]) -> list[tuple[str, int, int]]:
    """Cut ``[start, end)`` into named shifts given as ``(name, "HH:MM", "HH:MM")`` in UTC.

    A shift whose end is not after its start runs past midnight.

    >>> w = shift_windows(0, 86_400 * NS, [("A", "06:00", "18:00"), ("B", "18:00", "06:00")])
    >>> [(n, s // 3600 // NS, e // 3600 // NS) for n, s, e in w]
    [('B', 0, 6), ('A', 6, 18), ('B', 18, 24)]
    """
    if end <= start:
        raise KpiInputError(f"empty window: start {start} must be before end {end}")

    def minutes(text: str) -> int:
        try:
            hh, mm = text.split(":")
            value = int(hh) * 60 + int(mm)
        except ValueError:
            raise KpiInputError(f"shift time {text!r} must be HH:MM") from None
        if not 0 <= value < 24 * 60:
            raise KpiInputError(f"shift time {text!r} must be between 00:00 and 23:59")
        return value

    day = 86_400 * NS
    out: list[tuple[str, int, int]] = []
    d0 = start - start % day - day
    while d0 < end:
        for name, a, b in shifts:
            s = d0 + minutes(a) * 60 * NS
            e = d0 + minutes(b) * 60 * NS
            if e <= s:
                e += day
            s, e = max(s, start), min(e, end)
            if e > s:
                out.append((name, s, e))
        d0 += day
    return sorted(out, key=lambda w: w[1])
