"""Consensus regions through crowd-kit's segmentation aggregators.

Each answer ``(task, worker, start, end)`` becomes a ``(1, N)`` boolean mask
on the 0.5 s grid (:mod:`reviewer.crowd.masks`); crowd-kit aggregates the
masks of each task and the consensus region is the longest run of the
aggregated mask. crowd-kit does the aggregation — nothing here re-implements it:

=========  ==========================================================  =====================
method     crowd-kit class                                             worker skills
=========  ==========================================================  =====================
``mv``     :class:`crowdkit.aggregation.SegmentationMajorityVote`      optional weights
``em``     :class:`crowdkit.aggregation.SegmentationEM`                estimated per task
``rasa``   :class:`crowdkit.aggregation.SegmentationRASA`              estimated per task
=========  ==========================================================  =====================

Wawa and ZeroBasedSkill are not used (they are classification aggregators and
need a ``check_is_fitted`` patch with scikit-learn >= 1.6), so nothing is patched.

When the aggregated mask of a task is empty (no cell reached a majority, e.g.
three answers that do not overlap) the consensus falls back to the most-voted
cells (votes weighted by skill under weighted ``mv``: the most skilled
worker's region), and ``fallback`` is set in the result.

A consensus is a *tie* (``tie`` in the result) when no cell of its region has
a strict majority of the vote weight and some cell outside it has as many
votes: two equally weighted answers that do not overlap, or three that do not
overlap. The region is then one annotator's pick among equals, not agreement;
callers write no consensus label for it and leave it to a reviewer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
from crowdkit.aggregation import SegmentationEM, SegmentationMajorityVote, SegmentationRASA

from reviewer.crowd.masks import DEFAULT_RESOLUTION, mask_to_region, n_cells, region_mask, region_of_votes
from reviewer.errors import ValidationError

__all__ = ["METHODS", "RegionConsensus"]

logger = logging.getLogger(__name__)

#: ``method`` values of :class:`RegionConsensus`.
METHODS = ("mv", "em", "rasa")

_COLUMNS = ("task", "worker", "start", "end")


class RegionConsensus:
    """One consensus region per task from many workers' regions.

    Parameters
    ----------
    method : str
        ``"mv"`` (majority vote, optionally skill-weighted), ``"em"`` or ``"rasa"``.
    resolution : float
        Grid cell in seconds.

    Attributes
    ----------
    masks_ : dict of task → np.ndarray [shape=(1, N), bool]
        The aggregated mask of each task (after ``fit``).
    votes_ : dict of task → np.ndarray [shape=(1, N), float]
        How many workers marked each cell (their summed skill under weighted ``mv``).
    regions_ : pandas.DataFrame
        Indexed by task: ``start``, ``end``, ``n_workers``, ``fallback``, ``tie``.
    """

    def __init__(self, method: str = "mv", *, resolution: float = DEFAULT_RESOLUTION) -> None:
        if method not in METHODS:
            raise ValidationError(f"aggregation method must be one of {METHODS}; got {method!r}")
        self.method = method
        self.resolution = float(resolution)

    def _masks(self, data: pd.DataFrame, durations: Mapping) -> pd.DataFrame:
        missing = [c for c in _COLUMNS if c not in data.columns]
        if missing:
            raise ValidationError(f"answers table lacks column(s) {missing}; need {list(_COLUMNS)}")
        unknown = sorted({t for t in data["task"] if t not in durations}, key=str)
        if unknown:
            raise ValidationError(f"no duration for task(s) {unknown[:5]}")
        rows = []
        for task, worker, start, end in data[list(_COLUMNS)].itertuples(index=False):
            rows.append((task, worker, region_mask(start, end, duration=durations[task], resolution=self.resolution)))
        return pd.DataFrame(rows, columns=["task", "worker", "segmentation"])

    def _aggregate(self, table: pd.DataFrame, skills: pd.Series | None) -> pd.Series:
        if self.method == "em":
            return SegmentationEM().fit_predict(table)
        if self.method == "rasa":
            return SegmentationRASA().fit_predict(table)
        weights = None if skills is None else pd.Series(self._weights(table, skills), dtype=float)
        if weights is not None:
            weights.index.name = "worker"
        return SegmentationMajorityVote().fit_predict(table, weights)

    def _weights(self, table: pd.DataFrame, skills: pd.Series | None) -> dict:
        """Worker → vote weight: their skill under weighted ``mv`` (1 when unknown), else 1."""
        workers = sorted(set(table["worker"]), key=str)
        if skills is None or self.method != "mv":
            return {w: 1.0 for w in workers}
        known = pd.Series(skills, dtype=float).clip(lower=1e-3)
        return {w: float(known.get(w, 1.0)) for w in workers}

    def fit(self, data: pd.DataFrame, durations: Mapping, skills: pd.Series | None = None) -> "RegionConsensus":
        """Aggregate the answers.

        Parameters
        ----------
        data : pandas.DataFrame
            Long table with columns ``task``, ``worker``, ``start``, ``end`` (seconds).
        durations : mapping of task → float
            Each task's item duration in seconds (the grid length).
        skills : pandas.Series, optional
            Worker weights indexed by worker (``mv`` only); workers without one
            get weight 1.

        Returns
        -------
        RegionConsensus
            self, fitted.
        """
        table = self._masks(data, durations)
        self.masks_: dict = {}
        self.votes_: dict = {}
        records = []
        if table.empty:
            self.regions_ = pd.DataFrame(columns=["start", "end", "n_workers", "fallback", "tie"])
            return self
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # crowd-kit's EM on degenerate tasks
            agg = self._aggregate(table, skills)
        weight = self._weights(table, skills)
        for task, group in table.groupby("task", sort=False):
            w = np.array([weight[x] for x in group["worker"]], dtype=np.float64)
            votes = np.tensordot(w, np.stack(group["segmentation"].to_list()).astype(np.float64), axes=1)
            mask = np.asarray(agg.loc[task], dtype=bool).reshape(1, -1)
            duration = float(durations[task])
            region = mask_to_region(mask, duration=duration, resolution=self.resolution, votes=votes)
            fallback = region is None
            if fallback:
                region = region_of_votes(votes, duration=duration, resolution=self.resolution)
                mask = (votes >= votes.max()).reshape(1, -1)
            self.masks_[task], self.votes_[task] = mask, votes.reshape(1, -1)
            records.append({"task": task, "start": region[0], "end": region[1],
                            "n_workers": int(group["worker"].nunique()), "fallback": bool(fallback),
                            "tie": _is_tie(votes, region, total=float(w.sum()), resolution=self.resolution)})
        self.regions_ = pd.DataFrame.from_records(records).set_index("task")
        n_fb = int(self.regions_["fallback"].sum())
        logger.info("%s consensus for %d task(s), %d by fallback", self.method, len(self.regions_), n_fb)
        return self

    def fit_predict(self, data: pd.DataFrame, durations: Mapping, skills: pd.Series | None = None) -> pd.DataFrame:
        """:meth:`fit`, then return :attr:`regions_`."""
        return self.fit(data, durations, skills).regions_

    @staticmethod
    def grid_size(duration: float, *, resolution: float = DEFAULT_RESOLUTION) -> int:
        """Cells of the grid for an item of ``duration`` seconds."""
        return n_cells(duration, resolution=resolution)


def _is_tie(votes: np.ndarray, region: tuple[float, float], *, total: float, resolution: float) -> bool:
    """No strict majority inside ``region`` and an equally voted cell outside it."""
    votes = np.asarray(votes, dtype=np.float64).ravel()
    lo = int(np.floor(region[0] / resolution + 1e-9))
    hi = max(lo + 1, int(np.ceil(region[1] / resolution - 1e-9)))
    inside = votes[lo:hi]
    if inside.size == 0:
        return False
    top = float(inside.max())
    if top > total / 2 + 1e-9:
        return False
    outside = np.concatenate([votes[:lo], votes[hi:]])
    return bool(outside.size and outside.max() >= top - 1e-9)
