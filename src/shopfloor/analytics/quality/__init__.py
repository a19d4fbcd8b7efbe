"""Statistical process control and inspection (pure compute; imports only shopfloor.core).

Charts (history form, phase I)
    :func:`xbar_r`, :func:`xbar_s`, :func:`imr`, :func:`p_chart`, :func:`np_chart`,
    :func:`c_chart`, :func:`u_chart`, :func:`ewma`, :func:`cusum`
Charts (streaming form, phase II; ``learn_one`` returns the violations)
    :class:`XbarR`, :class:`XbarS`, :class:`IMR`, :class:`P`, :class:`NP`, :class:`C`, :class:`U`,
    :class:`EWMA`, :class:`CUSUM`
Run rules
    :class:`RuleSet` / :func:`check`: Western Electric (``"we"``) and Nelson (``"nelson"``)
Capability
    :func:`capability` (Cp, Cpk, Pp, Ppk with confidence intervals), :func:`cp_interval`,
    :func:`cpk_interval`
Inspection
    :mod:`shopfloor.analytics.quality.vision` (surface-defect classifier; needs the ``quality``
    extra: scikit-image, scikit-learn, pillow)
"""

from .capability import Capability, capability, cp_interval, cpk_interval
from .charts import Chart, c_chart, imr, np_chart, p_chart, u_chart, xbar_r, xbar_s
from .memory import CUSUM, EWMA, cusum, ewma
from .rules import RuleSet, Violation, check
from .stream import IMR, NP, C, P, U, XbarR, XbarS

__all__ = [
    "CUSUM",
    "EWMA",
    "IMR",
    "NP",
    "C",
    "Capability",
    "Chart",
    "P",
    "RuleSet",
    "U",
    "Violation",
    "XbarR",
    "XbarS",
    "c_chart",
    "capability",
    "check",
    "cp_interval",
    "cpk_interval",
    "cusum",
    "ewma",
    "imr",
    "np_chart",
    "p_chart",
    "u_chart",
    "xbar_r",
    "xbar_s",
]
