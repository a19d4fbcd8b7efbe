"""Rules files: TOML with one ``[[rule]]`` table per rule, validated at load.

An optional ``[defaults]`` table gives values every rule takes unless it sets its own
(``priority``, ``deadband``, ``on_delay``, ...). Errors raise
:class:`~shopfloor.core.errors.ConfigError` naming the file, the line and the field::

    rules.toml:14: rule 'pump_vib_high': field 'limit': Input should be a valid number

tomllib gives no line numbers per key, so the line is found in the text: the ``[[rule]]``
headers split the file into one span per rule, and within its span the line that assigns
the field (``limit = ...``) is the one named; when the field is missing, the rule's header.

>>> rules = load_rules_text('''
... [defaults]
... priority = "high"
... [[rule]]
... id = "t_high"
... asset = "s/a/l/m"
... tag = "t"
... kind = "high"
... limit = 90
... ''')
>>> rules[0].id, rules[0].priority.value
('t_high', 'high')
>>> bad = '[[rule]]\\nid = "x"\\nasset = "s/a/l/m"\\ntag = "t"\\nkind = "high"\\nlimit = "ninety"\\n'
>>> load_rules_text(bad, "r.toml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
shopfloor.core.errors.ConfigError: r.toml:6: rule 'x': field 'limit': Input should be a valid number, ...
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..core.errors import ConfigError
from .model import Rule

_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?")
_RULE_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]")
_TOP_KEYS = {"rule", "defaults"}


def rule_spans(text: str) -> list[tuple[int, int]]:
    """``(first, last)`` 1-based line numbers of each ``[[rule]]`` table, in order.

    >>> rule_spans("[defaults]\\n[[rule]]\\nid='a'\\n[[rule]]\\nid='b'\\n")
    [(2, 3), (4, 5)]
    """
    lines = text.splitlines()
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for i, line in enumerate(lines, start=1):
        m = _HEADER.match(line)
        if m is None:
            continue
        name = m.group(1).strip().strip("\"'")
        if _RULE_HEADER.match(line):
            if start is not None:
                spans.append((start, i - 1))
            start = i
        elif start is not None and not name.startswith("rule."):
            spans.append((start, i - 1))
            start = None
    if start is not None:
        spans.append((start, len(lines)))
    return spans


def field_line(text: str, span: tuple[int, int], field: str) -> int:
    """The line in ``span`` that assigns ``field``, else the span's first line."""
    pattern = re.compile(rf"^\s*[\"']?{re.escape(field)}[\"']?\s*=")
    lines = text.splitlines()
    for i in range(span[0], min(span[1], len(lines)) + 1):
        if pattern.match(lines[i - 1]):
            return i
    return span[0]


def _line_of(text: str, key: str) -> int:
    """The line of a top-level key or table header (1 when not found)."""
    pattern = re.compile(rf"^\s*(\[+\s*{re.escape(key)}\s*\]+|{re.escape(key)}\s*=)")
    for i, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return i
    return 1


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_rules_text(text: str, source: str = "rules") -> list[Rule]:
    """Parse and validate the text of a rules file; ``source`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        at = re.search(r"line (\d+)", str(err))
        where = f"{source}:{at.group(1)}" if at else source
        raise ConfigError(f"{where}: not valid TOML: {err}") from None
    for key in data:
        if key not in _TOP_KEYS:
            raise ConfigError(
                f"{source}:{_line_of(text, key)}: unknown key {key!r}: use [defaults] and [[rule]]"
            )
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigError(f"{source}:{_line_of(text, 'defaults')}: 'defaults' must be a table ([defaults])")
    for bad in sorted(set(defaults) & {"id", "asset", "tag", "expr"}):
        raise ConfigError(f"{source}:{_line_of(text, 'defaults')}: [defaults] cannot set {bad!r}")
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        raise ConfigError(f"{source}:{_line_of(text, 'rule')}: 'rule' must be tables ([[rule]])")
    spans = rule_spans(text)
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_rules):
        span = spans[i] if i < len(spans) else (1, len(text.splitlines()))
        rule_id = raw.get("id") if isinstance(raw, dict) else None
        label = f"rule {rule_id!r}" if isinstance(rule_id, str) else f"rule #{i + 1}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}:{span[0]}: {label} must be a table")
        try:
            rule = Rule.model_validate({**defaults, **raw})
        except ValidationError as err:
            raise ConfigError(_explain(err, text, span, source, label, {**defaults, **raw})) from None
        if rule.id in seen:
            line = field_line(text, span, "id")
            raise ConfigError(
                f"{source}:{line}: rule {rule.id!r}: field 'id': duplicate id (first at line {seen[rule.id]})"
            )
        seen[rule.id] = field_line(text, span, "id")
        rule.set_origin(f"{source}:{span[0]}")
        rules.append(rule)
    return rules


def _explain(
    err: ValidationError, text: str, span: tuple[int, int], source: str, label: str, given: dict[str, Any]
) -> str:
    """One line for the most telling error: a field that is present (lowest line) before one missing."""
    found = []
    for e in err.errors():
        parts = [str(p) for p in e["loc"] if not isinstance(p, int)]
        field = parts[0] if parts else "rule"
        present = field in given
        line = field_line(text, span, field) if present else span[0]
        found.append((not present, line, field, e))
    found.sort(key=lambda x: (x[0], x[1]))
    missing, line, field, first = found[0]
    got = f" (got {_short(first['input'])})" if not missing and first["type"] != "missing" else ""
    msg = first["msg"].removeprefix("Value error, ")
    more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
    return f"{source}:{line}: {label}: field {field!r}: {msg}{got}{more}"


def load_rules(path: str | Path) -> list[Rule]:
    """Load one rules file (``.toml``); raises ConfigError naming file, line and field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read rules file {str(p)!r}: {err.strerror}") from err
    return load_rules_text(text, source=str(p))
