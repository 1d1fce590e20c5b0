import math

import numpy as np
import pytest

from reviewer.errors import ValidationError
from reviewer.metrics import hooks, intro
from reviewer.metrics.intervals import fraction_inside, frame_prf, iou, occurrence_prf
from reviewer.metrics.ranking import evaluate_regression, mos, spearman


def test_iou_golden():
    assert iou((0, 10), (5, 15)) == pytest.approx(5 / 15)
    assert iou((0, 10), (0, 10)) == 1.0
    assert iou((0, 1), (2, 3)) == 0.0


def test_bad_intervals_diagnose():
    with pytest.raises(ValidationError, match="milliseconds or swap"):
        iou((10, 5), (0, 1))
    with pytest.raises(ValidationError, match=r"\(start, end\)"):
        iou(None, (0, 1))


def test_fraction_inside_merges_overlaps():
    assert fraction_inside((0, 10), np.array([[0, 4], [2, 6]])) == pytest.approx(0.6)


def test_frame_prf_golden():
    p, r, f = frame_prf(np.array([[0, 10]]), np.array([[5, 15]]), duration=20, resolution=0.5)
    assert (p, r) == (0.5, 0.5) and f == pytest.approx(0.5)


def test_occurrence_prf_window():
    ref = np.array([[10, 30], [60, 80], [120, 140]])
    est = np.array([[11, 29], [64, 80]])
    p, r, f = occurrence_prf(ref, est, window=3.0)
    assert (p, r) == (0.5, 1 / 3)
    assert f == pytest.approx(0.4)


def test_intro_evaluate_golden():
    refs = {"a": (10.0, 40.0), "b": (0.0, 30.0), "c": None, "d": (50.0, 80.0)}
    ests = {"a": (10.5, 40.2), "b": (2.0, 30.0), "c": (5.0, 9.0), "d": None}
    m = intro.evaluate(refs, ests)
    assert m["detected"] == pytest.approx(2 / 3)
    assert m["false_positive_rate"] == 1.0
    assert m["mae_start"] == pytest.approx(1.25) and m["mae_end"] == pytest.approx(0.1)
    assert m["within_1s"] == pytest.approx(1 / 3) and m["within_3s"] == pytest.approx(2 / 3)
    assert m["mean_iou"] == pytest.approx((iou((10, 40), (10.5, 40.2)) + 28 / 30 + 0) / 3)


def test_intro_evaluate_requires_every_episode():
    with pytest.raises(ValidationError, match="no estimate"):
        intro.evaluate({"a": (0, 1)}, {})


def test_hooks_evaluate_golden():
    refs = {"s": {"chorus": [(30, 50), (90, 110)], "prechorus": [(20, 30)], "hook": (20, 50)},
            "ambient": {"chorus": [], "hook": None}}
    ests = {"s": {"snippet": (22, 52), "chorus": [(31, 50), (89, 110)]}, "ambient": {"snippet": (0, 30), "chorus": []}}
    m = hooks.evaluate(refs, ests)
    assert m["n_songs"] == 1 and m["snippet_in_chorus"] == 1.0
    assert m["hook_iou"] == pytest.approx(28 / 32)
    assert m["chorus_start_error"] == 1.0 and m["occurrence_f"] == 1.0


def test_ranking_and_mos():
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    assert evaluate_regression([0, 1], [1, 1])["mae"] == 0.5
    m = mos([5, 4, 4, 3])
    assert m["mos"] == 4.0 and m["n"] == 4
    with pytest.raises(ValidationError, match="1..5"):
        mos([0, 6])
