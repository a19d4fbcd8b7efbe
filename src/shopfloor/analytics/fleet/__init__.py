"""Fleet reliability: life data of products in the field, traced back to production batches.

* :mod:`.survival`: Kaplan-Meier (Greenwood bounds) and the k-sample log-rank test.
* :mod:`.models`: Weibull 2/3-parameter and log-normal maximum likelihood with right-censoring,
  B-lives with Fisher-matrix bounds.
* :mod:`.forecast`: expected returns per month of the installed base, with bounds.
* :mod:`.compare`: batches with significantly shorter field life, and the process
  parameters that set them apart.
* :mod:`.genealogy`: serial number -> batch -> machines, settings, material and quality.

Pure compute (numpy/scipy); imports only :mod:`shopfloor.core`.
"""

from .models import FAMILIES, LifeModel, best_fit, fit_life
from .survival import KaplanMeier, LifeDataError, LogRank, kaplan_meier, log_rank

__all__ = [
    "FAMILIES",
    "KaplanMeier",
    "LifeDataError",
    "LifeModel",
    "LogRank",
    "best_fit",
    "fit_life",
    "kaplan_meier",
    "log_rank",
]
