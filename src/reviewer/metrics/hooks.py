"""Snippets and chorus occurrences over a set of songs.

Reference per song: ``{"chorus": [(s, e), ...], "prechorus": [(s, e), ...], "hook": (s, e) | None,
"duration": float}``. Estimate per song: ``{"snippet": (s, e), "chorus": [(s, e), ...]}``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from reviewer.errors import ValidationError
from reviewer.metrics.intervals import fraction_inside, iou, occurrence_prf, validate_interval, validate_intervals


def validate(refs: Mapping[str, Mapping[str, Any]], ests: Mapping[str, Mapping[str, Any]]) -> None:
    missing = sorted(set(refs) - set(ests))
    if missing:
        raise ValidationError(f"no estimate for {len(missing)} song(s), e.g. {missing[:3]}")
    for k in refs:
        validate_intervals(refs[k].get("chorus", []), what=f"{k!r} reference chorus")
        if ests[k].get("snippet") is not None:
            validate_interval(ests[k]["snippet"], what=f"{k!r} snippet")
        validate_intervals(ests[k].get("chorus", []), what=f"{k!r} estimated chorus")


def evaluate(refs: Mapping[str, Mapping[str, Any]], ests: Mapping[str, Mapping[str, Any]], *, window: float = 3.0) -> dict[str, float]:
    """Song metrics as a dict of floats.

    ``snippet_in_chorus``: share of songs *with a chorus* whose snippet lies ≥ 50 %
    inside chorus ∪ pre-chorus; ``hook_iou``: mean IoU with the hook region;
    ``chorus_start_error``: mean |first estimated chorus start − nearest reference
    chorus start| in seconds; ``occurrence_f``: mean chorus-occurrence F at ``window`` s.
    """
    validate(refs, ests)
    inside, ious, start_err, occ_f = [], [], [], []
    for k, ref in refs.items():
        est = ests[k]
        chorus = validate_intervals(ref.get("chorus", []))
        pre = validate_intervals(ref.get("prechorus", []))
        if chorus.shape[0] == 0:
            continue
        snip = est.get("snippet")
        target = np.vstack([chorus, pre]) if pre.shape[0] else chorus
        inside.append(snip is not None and fraction_inside(snip, target) >= 0.5)
        if ref.get("hook") is not None and snip is not None:
            ious.append(iou(ref["hook"], snip))
        elif ref.get("hook") is not None:
            ious.append(0.0)
        est_ch = validate_intervals(est.get("chorus", []))
        if est_ch.shape[0]:
            start_err.append(float(np.min(np.abs(chorus[:, 0] - est_ch[0, 0]))))
        occ_f.append(occurrence_prf(chorus, est_ch, window=window)[2])
    return {
        "n_songs": float(len(inside)),
        "snippet_in_chorus": float(np.mean(inside)) if inside else float("nan"),
        "hook_iou": float(np.mean(ious)) if ious else float("nan"),
        "chorus_start_error": float(np.mean(start_err)) if start_err else float("nan"),
        "occurrence_f": float(np.mean(occ_f)) if occ_f else float("nan"),
    }
