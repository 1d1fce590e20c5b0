"""Intro detection over a set of episodes.

``refs`` and ``ests`` map an episode id to ``(start, end)`` or ``None`` (no intro).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from reviewer.errors import ValidationError
from reviewer.metrics.intervals import Interval, boundary_errors, iou, validate_interval


def validate(refs: Mapping[str, Interval | None], ests: Mapping[str, Interval | None]) -> None:
    missing = sorted(set(refs) - set(ests))
    if missing:
        raise ValidationError(f"no estimate for {len(missing)} episode(s), e.g. {missing[:3]} (use None for 'no intro')")
    for k, v in list(refs.items()) + [(k, ests[k]) for k in refs]:
        if v is not None:
            validate_interval(v, what=f"interval of {k!r}")


def evaluate(refs: Mapping[str, Interval | None], ests: Mapping[str, Interval | None]) -> dict[str, float]:
    """All intro metrics as a dict of floats.

    Returns
    -------
    dict
        ``n_with_intro, n_without_intro, detected`` (share of intro episodes with
        any estimate), ``false_positive_rate`` (share of no-intro episodes with an
        estimate), ``mae_start, mae_end`` (seconds, over detected), ``within_1s,
        within_3s`` (share of intro episodes with both boundaries within the
        tolerance; a miss counts as outside), ``mean_iou`` (over intro episodes,
        a miss is 0).
    """
    validate(refs, ests)
    with_intro = [k for k, v in refs.items() if v is not None]
    without = [k for k, v in refs.items() if v is None]
    detected = [k for k in with_intro if ests[k] is not None]
    errs = np.array([boundary_errors(refs[k], ests[k]) for k in detected]) if detected else np.zeros((0, 2))
    ious = [iou(refs[k], ests[k]) if ests[k] is not None else 0.0 for k in with_intro]
    n = max(1, len(with_intro))
    return {
        "n_with_intro": float(len(with_intro)),
        "n_without_intro": float(len(without)),
        "detected": len(detected) / n,
        "false_positive_rate": (sum(ests[k] is not None for k in without) / len(without)) if without else 0.0,
        "mae_start": float(errs[:, 0].mean()) if len(errs) else float("nan"),
        "mae_end": float(errs[:, 1].mean()) if len(errs) else float("nan"),
        "within_1s": float(np.sum((errs <= 1.0).all(axis=1))) / n if len(errs) else 0.0,
        "within_3s": float(np.sum((errs <= 3.0).all(axis=1))) / n if len(errs) else 0.0,
        "mean_iou": float(np.mean(ious)) if ious else float("nan"),
    }
