"""A chromaprint pairwise intro matcher in the style of Jellyfin's intro-skipper.

Written here from the published description, not from its code:

* ``fpcalc -raw -length N`` gives one 32-bit fingerprint point per ~0.1238 s
  (chromaprint analyses 11025 Hz audio in 4096-sample frames with a third-frame hop);
* for every relative shift of two episodes' point sequences, points whose
  Hamming distance is ≤ 6 bits of 32 count as equal;
* the longest run of equal points whose gaps are ≤ 3.5 s, 15–120 s long, is the
  shared intro of that pair; an episode takes its longest pair result.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from reviewer.errors import InvalidMediaError, ModelUnavailableError

log = logging.getLogger(__name__)

POINT_SECONDS = 4096 / 3 / 11025  # ≈ 0.1238 s per fingerprint point


@dataclass(frozen=True)
class ChromaprintConfig:
    """intro-skipper's defaults (seconds, bits)."""

    length: float = 300.0
    max_bit_diff: int = 6
    max_gap: float = 3.5
    min_len: float = 15.0
    max_len: float = 120.0


def fingerprint(path: str | Path, *, length: float = 300.0) -> np.ndarray:
    """Raw chromaprint points of the first ``length`` seconds.

    Returns
    -------
    np.ndarray [shape=(n,), uint32]
        One point per :data:`POINT_SECONDS`.

    Raises
    ------
    ModelUnavailableError
        when ``fpcalc`` is not installed.
    InvalidMediaError
        when fpcalc cannot read the file.
    """
    exe = shutil.which("fpcalc")
    if exe is None:
        raise ModelUnavailableError("the chromaprint baseline needs fpcalc (apt install libchromaprint-tools)")
    res = subprocess.run([exe, "-raw", "-length", str(int(round(length))), str(path)], capture_output=True, text=True)
    # fpcalc exits non-zero at an early end of file but still prints the points it has
    for line in res.stdout.splitlines():
        if line.startswith("FINGERPRINT="):
            body = line.split("=", 1)[1].strip()
            pts = np.array([int(x) for x in body.split(",") if x], dtype=np.int64).astype(np.uint32)
            if pts.size:
                return pts
    raise InvalidMediaError(path, f"fpcalc gave no fingerprint ({res.stderr.strip()[:200]})")


def _longest_run(hit_idx: np.ndarray, *, max_gap_points: int) -> tuple[int, int]:
    """Longest chain of hit positions whose consecutive gaps are ≤ ``max_gap_points``: (first, last)."""
    if hit_idx.size == 0:
        return 0, -1
    breaks = np.flatnonzero(np.diff(hit_idx) > max_gap_points)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [hit_idx.size - 1]])
    spans = hit_idx[ends] - hit_idx[starts]
    k = int(np.argmax(spans))
    return int(hit_idx[starts[k]]), int(hit_idx[ends[k]])


def match_fingerprints(fa: np.ndarray, fb: np.ndarray, *, config: ChromaprintConfig = ChromaprintConfig()
                       ) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The longest shared run of two fingerprints over all shifts.

    Returns
    -------
    ((a_start, a_end), (b_start, b_end)) in seconds, or None when no run is 15–120 s long.
    """
    gap = int(round(config.max_gap / POINT_SECONDS))
    best = None
    best_len = 0.0
    n, m = fa.size, fb.size
    for shift in range(-(m - 1), n):  # fa[i] ~ fb[i - shift]
        i0, i1 = max(0, shift), min(n, m + shift)
        if (i1 - i0) * POINT_SECONDS < config.min_len:
            continue
        diff = np.bitwise_count(fa[i0:i1] ^ fb[i0 - shift : i1 - shift])
        hits = np.flatnonzero(diff <= config.max_bit_diff)
        if hits.size * POINT_SECONDS < config.min_len * 0.3:
            continue
        s, e = _longest_run(hits, max_gap_points=gap)
        length = (e - s + 1) * POINT_SECONDS
        if config.min_len <= length <= config.max_len and length > best_len:
            best_len = length
            a0 = (i0 + s) * POINT_SECONDS
            b0 = (i0 + s - shift) * POINT_SECONDS
            best = ((a0, a0 + length), (b0, b0 + length))
    return best


def chromaprint_intros(episodes: Sequence[tuple[str, str, str]], *, config: ChromaprintConfig = ChromaprintConfig()
                       ) -> dict[str, tuple[float, float] | None]:
    """Intros of ``(key, series, path)`` episodes: each takes the longest run over its siblings."""
    by_series: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key, series, path in episodes:
        by_series[series].append((key, path))
    out: dict[str, tuple[float, float] | None] = {}
    for series, eps in by_series.items():
        fps = [fingerprint(p, length=config.length) for _, p in eps]
        best: dict[int, tuple[float, float] | None] = {k: None for k in range(len(eps))}
        for i in range(len(eps)):
            for j in range(i + 1, len(eps)):
                r = match_fingerprints(fps[i], fps[j], config=config)
                if r is None:
                    continue
                for k, iv in ((i, r[0]), (j, r[1])):
                    if best[k] is None or iv[1] - iv[0] > best[k][1] - best[k][0]:
                        best[k] = iv
        for k, (key, _) in enumerate(eps):
            out[key] = None if best[k] is None else (round(best[k][0], 3), round(best[k][1], 3))
        log.debug("chromaprint baseline: series %r done", series)
    return out
