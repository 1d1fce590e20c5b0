"""Chorus candidates and their learned ranking.

A *candidate* is one label of one structural segmentation
(:func:`reviewer.detect.structure.spectral_structures`) that occurs at least twice:
its occurrences are the chorus hypothesis. :func:`candidate_features` turns a
candidate into a fixed feature vector (:data:`FEATURES`); a :class:`HookRanker`
(a small scikit-learn model saved with joblib plus a JSON sidecar) scores
candidates, trained by :func:`train_ranker` on candidates labelled against
reference choruses (:func:`label_candidate`), split by artist so no artist is in
both the training and the held-out part. Without a trained ranker,
:func:`heuristic_score` ranks by repetition, loudness and a preceding build-up.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from reviewer.errors import ModelUnavailableError, ValidationError

log = logging.getLogger(__name__)

RANKER_VERSION = "hook-ranker-1"

#: candidate feature names, in column order
FEATURES: tuple[str, ...] = (
    "n_occ", "mean_dur", "dur_cv", "first_start_rel", "last_end_rel", "coverage", "rms_db_rel", "rms_rank",
    "onset_rel", "rep_strength", "novelty_at_start", "has_pre", "pre_dur", "k", "starts_at_zero",
    "reaches_end", "key_shift", "scorer_mean", "scorer_missing",
    "loud_jump", "rep_min", "dur_ratio", "first_is_longest", "inner_novelty", "inner_jump",
)


@dataclass(frozen=True)
class Candidate:
    """One chorus hypothesis: the occurrences of a structure label.

    Attributes
    ----------
    occurrences : list of (float, float)
        Chorus occurrences in seconds, sorted.
    prechorus : list of (float, float)
        The section right before each occurrence when it is consistently the same
        (short) label, else empty.
    k : int
        Label count of the structure it came from.
    features : np.ndarray [shape=(len(FEATURES),)]
    """

    occurrences: list[tuple[float, float]]
    prechorus: list[tuple[float, float]]
    k: int
    features: np.ndarray = field(default_factory=lambda: np.zeros(len(FEATURES)))


def _mean_over(times: np.ndarray, x: np.ndarray, spans: Sequence[tuple[float, float]]) -> float:
    vals = [x[(times >= s) & (times < e)] for s, e in spans]
    vals = [v for v in vals if v.size]
    return float(np.mean(np.concatenate(vals))) if vals else float("nan")


def candidate_features(
    occurrences: Sequence[tuple[float, float]],
    prechorus: Sequence[tuple[float, float]],
    *,
    k: int,
    duration: float,
    grid: np.ndarray,
    rms: np.ndarray,
    onset: np.ndarray,
    affinity: np.ndarray,
    shifts: np.ndarray,
    novelty: np.ndarray,
    label_rms: Sequence[float],
    scorer_curve: np.ndarray | None = None,
) -> np.ndarray:
    """Feature vector of one candidate (order :data:`FEATURES`).

    Parameters
    ----------
    occurrences, prechorus : sequence of (float, float)
        Seconds.
    k : int
    duration : float
        Song length in seconds.
    grid : np.ndarray [shape=(m,)]
        Grid step starts in seconds (the SSM grid).
    rms, onset : np.ndarray [shape=(m,)]
        Grid-synchronous RMS (linear) and onset strength.
    affinity, shifts : np.ndarray [shape=(m, m)]
        Smoothed affinity and best chroma shift per cell.
    novelty : np.ndarray [shape=(m,)]
    label_rms : sequence of float
        Mean RMS of every label of the same structure (for the rank).
    scorer_curve : np.ndarray [shape=(m,)] or None
        A learned per-step chorus/interest probability, if a scorer ran.

    Returns
    -------
    np.ndarray [shape=(len(FEATURES),), float64]
    """
    occ = np.asarray(occurrences, dtype=np.float64)
    durs = occ[:, 1] - occ[:, 0]
    res = float(grid[1] - grid[0]) if grid.size > 1 else 1.0
    song_rms = float(np.mean(rms)) + 1e-9
    c_rms = _mean_over(grid, rms, occurrences)
    idx = [int(round(s / res)) for s, _ in occurrences]
    n = int(round(float(np.min(durs)) / res))
    reps, shs = [], []
    m = affinity.shape[0]
    for i in range(len(idx)):
        for j in range(i + 1, len(idx)):
            a, b = idx[i], idx[j]
            ln = max(1, min(n, m - a, m - b))
            reps.append(float(np.mean(affinity[a + np.arange(ln), b + np.arange(ln)])))
            shs.append(int(np.median(shifts[a + np.arange(ln), b + np.arange(ln)])))
    nov = [float(novelty[min(max(i, 0), novelty.size - 1)]) for i in idx]
    pre = np.asarray(prechorus, dtype=np.float64).reshape(-1, 2)
    db = 20 * np.log10(np.maximum(rms, 1e-5))
    w = max(1, int(round(4.0 / res)))
    def jump(i: int) -> float:
        return float(np.mean(db[i:i + w]) - np.mean(db[max(0, i - w):i])) if 1 <= i < db.size else 0.0

    jumps = [jump(i) for i in idx if 1 <= i < db.size]
    # a boundary inside the occurrences (a pre-chorus merged into the chorus, two sections as one):
    # the strongest novelty / level jump in the interior, relative to the one at the start
    e2 = max(2, int(round(2.0 / res)))
    inner_nov, inner_jump = [], []
    for (s0, s1), i in zip(occurrences, idx):
        j = int(round(s1 / res))
        if j - i > 2 * e2:
            inner_nov.append(float(np.max(novelty[i + e2:min(j - e2, novelty.size)], initial=0.0))
                             - float(novelty[min(max(i, 0), novelty.size - 1)]))
            inner_jump.append(max((jump(t) for t in range(i + e2, min(j - e2, db.size))), default=0.0) - jump(i))
    if scorer_curve is not None:
        sc, sc_missing = _mean_over(grid, scorer_curve, occurrences), 0.0
    else:
        sc, sc_missing = 0.0, 1.0
    return np.array([
        len(occurrences),
        float(np.mean(durs)),
        float(np.std(durs) / (np.mean(durs) + 1e-9)),
        float(occ[0, 0] / duration),
        float(occ[-1, 1] / duration),
        float(np.sum(durs) / duration),
        float(20 * np.log10((c_rms + 1e-9) / song_rms)),
        float(np.mean(np.asarray(label_rms) <= c_rms + 1e-12)),
        float(_mean_over(grid, onset, occurrences) / (np.mean(onset) + 1e-9)),
        float(np.mean(reps)) if reps else 0.0,
        float(np.mean(nov)),
        float(pre.shape[0] > 0),
        float(np.mean(pre[:, 1] - pre[:, 0])) if pre.shape[0] else 0.0,
        float(k),
        float(occ[0, 0] < 1.0),
        float(occ[-1, 1] > duration - 1.0),
        float(any(s != 0 for s in shs)),
        float(sc) if np.isfinite(sc) else 0.0,
        sc_missing,
        float(np.mean(jumps)) if jumps else 0.0,
        float(np.min(reps)) if reps else 0.0,
        float(np.max(durs) / max(float(np.min(durs)), 1e-9)),
        float(durs[0] >= np.max(durs) - 1.0),
        float(np.mean(inner_nov)) if inner_nov else 0.0,
        float(np.mean(inner_jump)) if inner_jump else 0.0,
    ], dtype=np.float64)


def heuristic_score(features: np.ndarray) -> np.ndarray:
    """Hand-set ranking used without a trained ranker, shape (n,) → (n,).

    Rewards repetition (count, strength), loudness relative to the song, a
    consistent build-up section before each occurrence, and chorus-like lengths
    (8–40 s); penalises candidates that start at 0 s or end the track (intro/outro).
    """
    F = np.atleast_2d(features)
    col = {n: F[:, i] for i, n in enumerate(FEATURES)}
    dur_ok = np.exp(-0.5 * (np.log(np.maximum(col["mean_dur"], 1.0) / 18.0) / 0.5) ** 2)
    return (
        0.6 * np.minimum(col["n_occ"], 5)
        + 0.25 * col["rms_db_rel"]
        + 1.0 * col["rms_rank"]
        + 4.0 * (col["rep_strength"] - 0.8)
        + 0.5 * col["has_pre"]
        + 1.0 * dur_ok
        - 0.8 * col["dur_cv"]
        - 1.0 * col["starts_at_zero"]
        - 0.7 * col["reaches_end"]
        + 1.5 * (1.0 - col["scorer_missing"]) * (col["scorer_mean"] - 0.5)
    )


def label_candidate(occurrences: Sequence[tuple[float, float]], ref_chorus: Sequence[tuple[float, float]], *, window: float = 3.0) -> float:
    """Training target of a candidate: chorus-occurrence F (start within ``window`` s) against the reference, in [0, 1]."""
    from reviewer.metrics.intervals import occurrence_prf

    if len(ref_chorus) == 0:
        return 0.0
    return float(occurrence_prf(np.asarray(ref_chorus), np.asarray(occurrences), window=window)[2])


class HookRanker:
    """A fitted scikit-learn regressor over :data:`FEATURES` that scores chorus candidates.

    Attributes
    ----------
    model : sklearn estimator
    model_version : str
    meta : dict
        The JSON sidecar (feature names, version, metrics, training songs).
    """

    def __init__(self, model: Any, *, model_version: str, meta: Mapping[str, Any]) -> None:
        self.model = model
        self.model_version = model_version
        self.meta = dict(meta)

    def score(self, features: np.ndarray) -> np.ndarray:
        """Candidate scores, shape (n, len(FEATURES)) → (n,); higher is more chorus-like."""
        F = np.atleast_2d(np.asarray(features, dtype=np.float64))
        if F.shape[1] != len(FEATURES):
            raise ValidationError(f"ranker expects {len(FEATURES)} features, got {F.shape[1]}")
        return np.asarray(self.model.predict(F), dtype=np.float64)


def _make_model(kind: str, random_state: int):
    if kind == "gbm":
        from sklearn.ensemble import GradientBoostingRegressor

        return GradientBoostingRegressor(n_estimators=150, max_depth=3, learning_rate=0.05, subsample=0.8,
                                         random_state=random_state)
    if kind == "linear":
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), Ridge(alpha=1.0))
    raise ValidationError(f"unknown ranker kind {kind!r}; use 'gbm' or 'linear'")


def _top1(model_scores: np.ndarray, targets: np.ndarray, songs: np.ndarray) -> float:
    """Mean target of the top-scored candidate per song."""
    out = []
    for s in np.unique(songs):
        i = np.flatnonzero(songs == s)
        out.append(float(targets[i[np.argmax(model_scores[i])]]))
    return float(np.mean(out)) if out else float("nan")


def train_ranker(
    X: np.ndarray,
    y: np.ndarray,
    *,
    songs: Sequence[str],
    artists: Sequence[str],
    out_path: str | Path,
    kind: str = "gbm",
    holdout: float = 0.25,
    random_state: int = 0,
) -> HookRanker:
    """Fit a candidate ranker, measure it on held-out artists, refit on all and save.

    Parameters
    ----------
    X : np.ndarray [shape=(n, len(FEATURES))]
        Candidate features.
    y : np.ndarray [shape=(n,)]
        Targets in [0, 1] (:func:`label_candidate`).
    songs, artists : sequence of str, length n
        Song key and artist of each candidate; the held-out part is a share of the artists.
    out_path : path
        ``<name>.joblib``; the sidecar is written next to it as ``<name>.json``.
    kind : {"gbm", "linear"}
    holdout : float
        Share of artists held out for the reported metrics.
    random_state : int
        Seed of the artist split and the model.

    Returns
    -------
    HookRanker
    """
    import joblib

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    songs_a, artists_a = np.asarray(songs), np.asarray(artists)
    if X.ndim != 2 or X.shape[1] != len(FEATURES) or not (len(y) == len(songs_a) == len(artists_a) == X.shape[0]):
        raise ValidationError(f"X must be (n, {len(FEATURES)}) with n targets/songs/artists, got {X.shape}, {len(y)}")
    rng = np.random.default_rng(random_state)
    uniq = np.unique(artists_a)
    test_art = set(rng.permutation(uniq)[: max(1, int(round(holdout * uniq.size)))]) if uniq.size > 1 else set()
    test = np.isin(artists_a, list(test_art))
    metrics: dict[str, float] = {}
    if test.any() and (~test).any():
        m = _make_model(kind, random_state).fit(X[~test], y[~test])
        metrics = {
            "heldout_top1_occurrence_f": _top1(m.predict(X[test]), y[test], songs_a[test]),
            "heldout_heuristic_top1_occurrence_f": _top1(heuristic_score(X[test]), y[test], songs_a[test]),
            "heldout_oracle_top1_occurrence_f": _top1(y[test], y[test], songs_a[test]),
            "heldout_songs": float(np.unique(songs_a[test]).size),
        }
    model = _make_model(kind, random_state).fit(X, y)
    version = f"{RANKER_VERSION}-{kind}-{time.strftime('%Y%m%d%H%M%S')}"
    meta = {
        "model_version": version, "kind": kind, "features": list(FEATURES), "n_candidates": int(X.shape[0]),
        "n_songs": int(np.unique(songs_a).size), "n_artists": int(uniq.size), "heldout_artists": sorted(test_art),
        "metrics": metrics, "random_state": random_state,
    }
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out)
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    log.info("hook ranker %s: %d candidates from %d songs; held-out %s", version, X.shape[0], meta["n_songs"], metrics)
    return HookRanker(model, model_version=version, meta=meta)


def load_ranker(path: str | Path) -> HookRanker:
    """Load a ranker saved by :func:`train_ranker` (``.joblib`` + ``.json`` sidecar).

    Raises
    ------
    ModelUnavailableError
        when either file is missing or the feature names differ from :data:`FEATURES`.
    """
    import joblib

    p = Path(path)
    side = p.with_suffix(".json")
    if not p.is_file() or not side.is_file():
        raise ModelUnavailableError(f"hook ranker {str(p)!r} (and its {side.name} sidecar) not found")
    meta = json.loads(side.read_text(encoding="utf-8"))
    if list(meta.get("features", [])) != list(FEATURES):
        raise ModelUnavailableError(f"hook ranker {str(p)!r} was trained on other features; retrain it")
    return HookRanker(joblib.load(p), model_version=str(meta.get("model_version", RANKER_VERSION)), meta=meta)
