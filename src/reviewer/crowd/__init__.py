"""Crowd labelling maths: answers as time masks, consensus through crowd-kit, agreement, skills.

One aggregator per file, crowd-kit style (``fit_predict`` over a long
``(task, worker, ...)`` table, fitted attributes ending in ``_``):

* :mod:`~reviewer.crowd.masks` — a region ↔ a boolean mask on a 0.5 s grid;
* :mod:`~reviewer.crowd.aggregate` — :class:`RegionConsensus` over crowd-kit's
  SegmentationMajorityVote / SegmentationEM / SegmentationRASA;
* :mod:`~reviewer.crowd.agreement` — mean pairwise IoU and Krippendorff's alpha per task;
* :mod:`~reviewer.crowd.skills` — :class:`GoldenSkill`: worker skill from golden IoU and
  agreement with the consensus;
* :mod:`~reviewer.crowd.simulate` — simulated annotators of known skill (tests, CLI).
"""

from reviewer.crowd.agreement import TaskAgreement, krippendorff_alpha, mean_pairwise_iou, task_agreement
from reviewer.crowd.aggregate import METHODS, RegionConsensus
from reviewer.crowd.masks import DEFAULT_RESOLUTION, mask_to_region, n_cells, region_mask, region_of_votes
from reviewer.crowd.skills import GoldenSkill, combine_skill

__all__ = [
    "DEFAULT_RESOLUTION", "METHODS", "GoldenSkill", "RegionConsensus", "TaskAgreement", "combine_skill",
    "krippendorff_alpha", "mask_to_region", "mean_pairwise_iou", "n_cells", "region_mask", "region_of_votes",
    "task_agreement",
]
