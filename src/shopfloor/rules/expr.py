"""Safe expressions over the tags of one asset, for ``expression`` rules and ``suppress_when``.

An expression is a Python expression restricted to names (tag names of the asset),
numbers, strings, ``True``/``False``, arithmetic, comparisons, ``and``/``or``/``not``,
``x if c else y`` and the functions ``abs``, ``min``, ``max``, ``round``. It is parsed and
checked once, at load; evaluating it is one ``eval`` of a compiled code object.

>>> e = Expression("discharge_pressure - suction_pressure > 8 and running")
>>> sorted(e.names)
['discharge_pressure', 'running', 'suction_pressure']
>>> e.evaluate({"discharge_pressure": 12.0, "suction_pressure": 1.0, "running": True})
True
>>> e.evaluate({"discharge_pressure": 12.0}) is None   # a tag without a value yet
True
>>> Expression("__import__('os')")
Traceback (most recent call last):
...
ValueError: function '__import__' is not allowed (use abs, min, max, round)
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from typing import Any

FUNCTIONS: dict[str, Any] = {"abs": abs, "min": min, "max": max, "round": round}
CONSTANTS = {"True", "False", "None"}

_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.IfExp,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Call,
    ast.Tuple,
    ast.List,
)


class Expression:
    """A checked, compiled expression; :meth:`evaluate` returns its truth, or None when unknown."""

    __slots__ = ("_code", "names", "text")

    def __init__(self, text: str) -> None:
        if not text or not text.strip():
            raise ValueError("expression is empty")
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as err:
            raise ValueError(f"expression {text!r} is not valid: {err.msg} at column {err.offset}") from None
        names: set[str] = set()
        for node in ast.walk(tree):
            if not isinstance(node, _ALLOWED):
                raise ValueError(f"{type(node).__name__} is not allowed in an expression")
            if isinstance(node, ast.Call):
                if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                    name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                    raise ValueError(f"function {name!r} is not allowed (use abs, min, max, round)")
                if node.keywords:
                    raise ValueError("keyword arguments are not allowed in an expression")
            elif isinstance(node, ast.Name) and node.id not in FUNCTIONS and node.id not in CONSTANTS:
                if node.id.startswith("_"):
                    raise ValueError(f"name {node.id!r} is not allowed (names are tag names)")
                names.add(node.id)
        self.text = text.strip()
        self.names = frozenset(names)
        self._code = compile(tree, "<rule expression>", "eval")

    def value(self, values: Mapping[str, Any]) -> Any:
        """The expression's value; raises KeyError when a tag has no value yet."""
        scope = {name: values[name] for name in self.names}
        return eval(self._code, {"__builtins__": FUNCTIONS}, scope)  # checked AST, no builtins

    def evaluate(self, values: Mapping[str, Any]) -> bool | None:
        """True/False, or None when a tag has no value yet or the arithmetic fails."""
        try:
            result = self.value(values)
        except (KeyError, ArithmeticError, TypeError, ValueError):
            return None
        if isinstance(result, float) and math.isnan(result):
            return None
        return bool(result)

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"
