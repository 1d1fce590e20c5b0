"""Per-task agreement between workers' regions.

Two measures, both on the answers of one task:

* **mean pairwise IoU** of the regions (1 = everyone chose the same region,
  0 = nobody overlaps), NaN with fewer than two answers;
* **Krippendorff's alpha** (nominal, via the ``krippendorff`` package) with the
  0.5 s grid cells as units and the workers as coders: chance-corrected, so
  it can be negative; NaN when it is undefined (fewer than two answers, or
  every cell marked the same by everyone, which leaves no variation).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import krippendorff
import numpy as np

from reviewer.crowd.masks import DEFAULT_RESOLUTION, region_mask
from reviewer.metrics.intervals import iou

__all__ = ["TaskAgreement", "krippendorff_alpha", "mean_pairwise_iou", "task_agreement"]


@dataclass(frozen=True)
class TaskAgreement:
    """Agreement of one task's answers.

    Attributes
    ----------
    n_answers : int
    mean_iou : float
        Mean pairwise IoU in [0, 1] (NaN below two answers).
    alpha : float
        Krippendorff's alpha, nominal, over grid cells (NaN when undefined).
    """

    n_answers: int
    mean_iou: float
    alpha: float


def mean_pairwise_iou(regions: Sequence[tuple[float, float]]) -> float:
    """Mean IoU over all pairs of regions; NaN for fewer than two."""
    pairs = list(itertools.combinations(regions, 2))
    if not pairs:
        return math.nan
    return float(np.mean([iou(a, b) for a, b in pairs]))


def krippendorff_alpha(
    regions: Sequence[tuple[float, float]],
    *,
    duration: float,
    resolution: float = DEFAULT_RESOLUTION,
) -> float:
    """Nominal Krippendorff's alpha of the regions' grid masks (coders × cells).

    Returns
    -------
    float
        NaN with fewer than two regions or when alpha is undefined (no variation).
    """
    if len(regions) < 2:
        return math.nan
    data = np.vstack([region_mask(s, e, duration=duration, resolution=resolution)[0] for s, e in regions])
    if data.all() or not data.any():
        return math.nan
    try:
        return float(krippendorff.alpha(reliability_data=data.astype(float), level_of_measurement="nominal"))
    except ValueError:  # a degenerate table (one value in the domain)
        return math.nan


def task_agreement(
    regions: Sequence[tuple[float, float]],
    *,
    duration: float,
    resolution: float = DEFAULT_RESOLUTION,
) -> TaskAgreement:
    """Both measures for one task's regions."""
    regions = [(float(s), float(e)) for s, e in regions]
    return TaskAgreement(n_answers=len(regions), mean_iou=mean_pairwise_iou(regions),
                         alpha=krippendorff_alpha(regions, duration=duration, resolution=resolution))
