"""Worker skill: mean IoU with a reference region, from golden tasks and from the consensus.

:class:`GoldenSkill` takes a long table ``(worker, task, start, end,
ref_start, ref_end)``: the reference is the golden region for honeypots, or
the crowd consensus for regular tasks (then a worker's own answer is part of
the consensus, which flatters small overlaps: the golden score weighs more).
:func:`combine_skill` merges both into one number in [0, 1].
"""

from __future__ import annotations

import math

import pandas as pd

from reviewer.errors import ValidationError
from reviewer.metrics.intervals import iou

__all__ = ["GOLDEN_WEIGHT", "GoldenSkill", "combine_skill"]

#: How much more a golden answer counts than an agreement-with-consensus answer.
GOLDEN_WEIGHT = 2.0

_COLUMNS = ("worker", "task", "start", "end", "ref_start", "ref_end")


class GoldenSkill:
    """Per-worker mean IoU with reference regions.

    Attributes
    ----------
    ious_ : pandas.DataFrame
        The input rows with an ``iou`` column (after ``fit``).
    skills_ : pandas.DataFrame
        Indexed by worker: ``n`` (answers scored) and ``iou`` (their mean).
    """

    def fit(self, data: pd.DataFrame) -> "GoldenSkill":
        """Score every answer against its reference.

        Parameters
        ----------
        data : pandas.DataFrame
            Columns ``worker``, ``task``, ``start``, ``end``, ``ref_start``, ``ref_end`` (seconds).
        """
        missing = [c for c in _COLUMNS if c not in data.columns]
        if missing:
            raise ValidationError(f"skill table lacks column(s) {missing}; need {list(_COLUMNS)}")
        scored = data[list(_COLUMNS)].copy()
        scored["iou"] = [iou((rs, re_), (s, e)) for s, e, rs, re_ in
                         scored[["start", "end", "ref_start", "ref_end"]].itertuples(index=False)]
        self.ious_ = scored
        if scored.empty:
            self.skills_ = pd.DataFrame({"n": pd.Series(dtype=int), "iou": pd.Series(dtype=float)})
        else:
            self.skills_ = scored.groupby("worker").agg(n=("iou", "size"), iou=("iou", "mean"))
        return self

    def fit_predict(self, data: pd.DataFrame) -> pd.DataFrame:
        """:meth:`fit`, then return :attr:`skills_`."""
        return self.fit(data).skills_


def combine_skill(
    *,
    golden_iou: float | None,
    golden_n: int,
    consensus_iou: float | None,
    consensus_n: int,
    golden_weight: float = GOLDEN_WEIGHT,
) -> float | None:
    """Count-weighted mean of the golden and consensus IoUs (golden answers weigh ``golden_weight``).

    Returns
    -------
    float or None
        None when the worker has no scored answer yet.
    """
    parts = []
    if golden_n and golden_iou is not None and not math.isnan(golden_iou):
        parts.append((golden_weight * golden_n, float(golden_iou)))
    if consensus_n and consensus_iou is not None and not math.isnan(consensus_iou):
        parts.append((float(consensus_n), float(consensus_iou)))
    total = sum(w for w, _ in parts)
    if not total:
        return None
    return sum(w * x for w, x in parts) / total
